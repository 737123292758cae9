package chat

import (
	"slices"
	"strings"
	"unicode/utf8"
)

func pyCapitalize(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + strings.ToLower(s[n:])
}

// pyStrip is str.strip/lstrip/rstrip(chars).
func pyStrip(s string, chars any, left, right bool) string {
	f := isPySpace
	if c, ok := chars.(string); ok {
		f = func(r rune) bool { return strings.ContainsRune(c, r) }
	}
	if left {
		s = strings.TrimLeftFunc(s, f)
	}
	if right {
		s = strings.TrimRightFunc(s, f)
	}
	return s
}

// pySplitLines is str.splitlines().
func pySplitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\r':
			out = append(out, s[start:i])
			if i+1 < len(s) && s[i+1] == '\n' {
				n = 2
			}
			start = i + n
		case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			out = append(out, s[start:i])
			start = i + n
		}
		i += n
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// pySplit is str.split(sep, maxsplit); sep nil splits on runs of whitespace.
func pySplit(s string, sep any, maxsplit int) ([]any, error) {
	var parts []string
	if sep == nil {
		rest := strings.TrimLeftFunc(s, isPySpace)
		for rest != "" {
			if maxsplit >= 0 && len(parts) == maxsplit {
				parts = append(parts, rest)
				break
			}
			i := strings.IndexFunc(rest, isPySpace)
			if i < 0 {
				parts = append(parts, rest)
				break
			}
			parts = append(parts, rest[:i])
			rest = strings.TrimLeftFunc(rest[i:], isPySpace)
		}
	} else {
		sp, ok := sep.(string)
		if !ok {
			return nil, typeErr("must be str or None, not %s", typeName(sep))
		}
		if sp == "" {
			return nil, &evalError{"ValueError", "empty separator"}
		}
		parts = strings.SplitN(s, sp, maxsplit+1)
		if maxsplit < 0 {
			parts = strings.Split(s, sp)
		}
	}
	return strValues(parts), nil
}

func pyRsplit(s string, sep any, maxsplit int) ([]any, error) {
	if maxsplit < 0 {
		return pySplit(s, sep, -1)
	}
	if sep == nil {
		var parts []string
		rest := strings.TrimRightFunc(s, isPySpace)
		for rest != "" {
			if len(parts) == maxsplit {
				parts = append(parts, rest)
				break
			}
			i := strings.LastIndexFunc(rest, isPySpace)
			if i < 0 {
				parts = append(parts, rest)
				break
			}
			_, n := utf8.DecodeRuneInString(rest[i:])
			parts = append(parts, rest[i+n:])
			rest = strings.TrimRightFunc(rest[:i], isPySpace)
		}
		slices.Reverse(parts)
		return strValues(parts), nil
	}
	sp, ok := sep.(string)
	if !ok || sp == "" {
		return pySplit(s, sep, maxsplit)
	}
	var parts []string
	rest := s
	for len(parts) < maxsplit {
		i := strings.LastIndex(rest, sp)
		if i < 0 {
			break
		}
		parts = append(parts, rest[i+len(sp):])
		rest = rest[:i]
	}
	parts = append(parts, rest)
	slices.Reverse(parts)
	return strValues(parts), nil
}

// strValues is strs as a template list.
func strValues(strs []string) []any {
	out := make([]any, len(strs))
	for i, s := range strs {
		out[i] = s
	}
	return out
}
