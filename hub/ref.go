// Package hub pulls GGUF models from a Hugging Face Hub (or a mirror of its
// HTTP API) into a local store: it lists a repository's files, picks the GGUF
// of a quantization, downloads it with resume, checksum and a lock, and keeps
// a manifest per pulled model.
package hub

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// DefaultQuant is the quantization picked when a reference names none, as
// llama.cpp's -hf does.
const DefaultQuant = "Q4_K_M"

// Ref names a model on the Hub: a repository and, optionally, a quantization.
type Ref struct {
	Repo  string // owner/name
	Quant string // as given ("" when none)
}

func (r Ref) String() string {
	if r.Quant == "" {
		return r.Repo
	}
	return r.Repo + ":" + r.Quant
}

var repoPart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ParseRef parses "owner/repo" or "owner/repo:QUANT".
func ParseRef(s string) (Ref, error) {
	repo, quant, _ := strings.Cut(s, ":")
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || !repoPart.MatchString(owner) || !repoPart.MatchString(name) ||
		strings.Contains(repo, "..") || strings.HasSuffix(name, ".gguf") {
		return Ref{}, fmt.Errorf("%q is not a Hugging Face model name: want OWNER/REPO or OWNER/REPO:QUANT", s)
	}
	if strings.ContainsAny(quant, "/\\ ") {
		return Ref{}, fmt.Errorf("%q: bad quantization tag %q", s, quant)
	}
	return Ref{Repo: repo, Quant: quant}, nil
}

// LooksLikeRef reports whether s has the shape of a model name rather than a
// file path: OWNER/REPO[:QUANT] with no further slashes and no .gguf suffix.
func LooksLikeRef(s string) bool {
	_, err := ParseRef(s)
	return err == nil
}

// quantRE finds a quantization tag in a file name: Q4_K_M, IQ2_XXS, Q8_0,
// F16, BF16, ..., bounded by '-', '.', '_' or the ends of the name.
var quantRE = regexp.MustCompile(`(?i)(?:^|[-._])((?:I?Q[1-8](?:_[A-Z0-9]{1,4})*)|BF16|F16|F32)(?:[-._]|$)`)

// splitRE matches the part suffix of a multi-part GGUF: -00001-of-00003.gguf.
var splitRE = regexp.MustCompile(`(?i)-(\d{5})-of-(\d{5})\.gguf$`)

// IsSplitPart reports whether a file name is one part of a split GGUF.
func IsSplitPart(name string) bool { return splitRE.MatchString(name) }

// QuantOf is the quantization tag in a GGUF file name, in upper case; "" if none.
func QuantOf(name string) string {
	stem := strings.TrimSuffix(path.Base(name), path.Ext(name))
	stem = splitRE.ReplaceAllString(stem+".gguf", "")
	stem = strings.TrimSuffix(stem, ".gguf")
	m := quantRE.FindAllStringSubmatch(stem, -1)
	if len(m) == 0 {
		return ""
	}
	return strings.ToUpper(m[len(m)-1][1])
}

// A Model is one GGUF model in a repository: a single file or the parts of a
// split one, in order.
type Model struct {
	Name  string  // the file name, or for a split model the name without the part suffix
	Quant string  // from the name, upper case; "" if none
	Files []Entry // one, or the parts in order
}

// Size is the sum of the model's file sizes.
func (m Model) Size() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.FileSize()
	}
	return n
}

// Split reports whether the model comes in parts.
func (m Model) Split() bool { return len(m.Files) > 1 || splitRE.MatchString(m.Files[0].Path) }

// Models groups a repository listing's GGUF files into models, skipping
// multimodal projectors (mmproj), sorted by name.
func Models(entries []Entry) ([]Model, error) {
	byName := map[string]*Model{}
	counts := map[string]int{}
	for _, e := range entries {
		if e.Type != "file" || !strings.EqualFold(path.Ext(e.Path), ".gguf") {
			continue
		}
		if strings.Contains(strings.ToLower(path.Base(e.Path)), "mmproj") {
			continue
		}
		name := e.Path
		if m := splitRE.FindStringSubmatch(e.Path); m != nil {
			name = e.Path[:len(e.Path)-len(m[0])] + ".gguf"
			var n int
			fmt.Sscan(strings.TrimLeft(m[2], "0"), &n)
			counts[name] = n
		}
		mod := byName[name]
		if mod == nil {
			mod = &Model{Name: name, Quant: QuantOf(e.Path)}
			byName[name] = mod
		}
		mod.Files = append(mod.Files, e)
	}
	var out []Model
	for name, m := range byName {
		sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
		if n, ok := counts[name]; ok && n != len(m.Files) {
			return nil, fmt.Errorf("%s: the repository lists %d of its %d parts", name, len(m.Files), n)
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Quants lists the distinct quantization tags of models, sorted.
func Quants(models []Model) []string {
	seen := map[string]bool{}
	var qs []string
	for _, m := range models {
		q := m.Quant
		if q == "" {
			q = path.Base(m.Name)
		}
		if !seen[q] {
			seen[q] = true
			qs = append(qs, q)
		}
	}
	sort.Strings(qs)
	return qs
}

// Select picks the model of a quantization: one whose tag equals quant (any
// case), else one whose file name contains it. With quant "", DefaultQuant is
// tried, then the only model if there is just one. The error lists the quants
// the repository has.
func Select(repo string, models []Model, quant string) (Model, error) {
	if len(models) == 0 {
		return Model{}, fmt.Errorf("%s has no GGUF files", repo)
	}
	want := quant
	if want == "" {
		want = DefaultQuant
	}
	for _, m := range models {
		if strings.EqualFold(m.Quant, want) {
			return m, nil
		}
	}
	for _, m := range models {
		if strings.Contains(strings.ToLower(path.Base(m.Name)), strings.ToLower(want)) {
			return m, nil
		}
	}
	if quant == "" && len(models) == 1 {
		return models[0], nil
	}
	what := "quantization " + want
	if quant == "" {
		what = "the default quantization " + DefaultQuant
	}
	return Model{}, fmt.Errorf("%s has no GGUF of %s; it has: %s (pick one with %s:QUANT)",
		repo, what, strings.Join(Quants(models), ", "), repo)
}
