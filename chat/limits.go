package chat

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// A template is untrusted input (it comes with the model file): these budgets
// make a hostile one fail with an error for its request instead of exhausting
// memory, the stack or time.
const (
	maxStringBytes = 32 << 20  // a string a template builds (repeat, concatenation, padding)
	maxListItems   = 1 << 20   // a list a template builds (repeat, concatenation)
	maxOutputBytes = 32 << 20  // the rendered text, and each captured block
	maxIterations  = 1_000_000 // loop iterations (and loop filter tests) in one rendering
	maxParseDepth  = 1000      // nesting of expressions and blocks in the source (also chains of operators)
	maxCallDepth   = 200       // macro calls in progress at once (recursion)
)

// MaxRenderTime bounds one rendering, whatever its context says.
var MaxRenderTime = 5 * time.Second

// tick is called for each node rendered, loop iteration and macro call: every
// 64 it checks the rendering's context and time budget.
func (r *renderer) tick() error {
	if r.ticks++; r.ticks&63 != 0 {
		return nil
	}
	if r.ctx != nil {
		if err := r.ctx.Err(); err != nil {
			return fmt.Errorf("rendering stopped: %w", err)
		}
	}
	if !r.deadline.IsZero() && time.Now().After(r.deadline) {
		return limitError("rendering took more than %v", MaxRenderTime)
	}
	return nil
}

// limitError is a budget a template exceeded.
func limitError(format string, args ...any) error {
	return &evalError{"SandboxError", fmt.Sprintf(format, args...)}
}

func overflowError(op string) error {
	return &evalError{"OverflowError", fmt.Sprintf("integer overflow in %s (integers are 64-bit here)", op)}
}

// repeatString is strings.Repeat, refusing results over maxStringBytes.
func repeatString(s string, n int64) (string, error) {
	if n <= 0 || s == "" {
		return "", nil
	}
	if n > maxStringBytes || int64(len(s))*n > maxStringBytes {
		return "", limitError("a string of %d x %d bytes is over the limit of %d bytes", n, len(s), maxStringBytes)
	}
	return strings.Repeat(s, int(n)), nil
}

// checkString refuses a string of n bytes about to be built.
func checkString(n int) error {
	if n > maxStringBytes {
		return limitError("a string of %d bytes is over the limit of %d bytes", n, maxStringBytes)
	}
	return nil
}

// checkList refuses a list of n items about to be built.
func checkList(n int64) error {
	if n > maxListItems {
		return limitError("a list of %d items is over the limit of %d", n, maxListItems)
	}
	return nil
}

// Checked 64-bit integer arithmetic: overflow is an error, never a wrap.
func addInt(a, b int64) (int64, error) {
	c := a + b
	if (c > a) != (b > 0) {
		return 0, overflowError("+")
	}
	return c, nil
}

func subInt(a, b int64) (int64, error) {
	c := a - b
	if (c < a) != (b > 0) {
		return 0, overflowError("-")
	}
	return c, nil
}

func mulInt(a, b int64) (int64, error) {
	if a == 0 || b == 0 {
		return 0, nil
	}
	c := a * b
	if (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) || c/b != a {
		return 0, overflowError("*")
	}
	return c, nil
}

// powInt is a ** b for b >= 0, by squaring.
func powInt(a, b int64) (int64, error) {
	out := int64(1)
	for b > 0 {
		var err error
		if b&1 == 1 {
			if out, err = mulInt(out, a); err != nil {
				return 0, overflowError("**")
			}
		}
		b >>= 1
		if b > 0 {
			if a, err = mulInt(a, a); err != nil {
				return 0, overflowError("**")
			}
		}
	}
	return out, nil
}

// replaceString is strings.Replace, refusing results over maxStringBytes.
func replaceString(s, old, new string, n int) (string, error) {
	count := strings.Count(s, old)
	if n >= 0 && n < count {
		count = n
	}
	if size := int64(len(s)) + int64(count)*(int64(len(new))-int64(len(old))); size > maxStringBytes {
		return "", limitError("a string of %d bytes is over the limit of %d bytes", size, maxStringBytes)
	}
	return strings.Replace(s, old, new, n), nil
}

// joinStrings is strings.Join, refusing results over maxStringBytes.
func joinStrings(parts []string, sep string) (string, error) {
	size := int64(len(sep)) * int64(max(len(parts)-1, 0))
	for _, p := range parts {
		size += int64(len(p))
	}
	if size > maxStringBytes {
		return "", limitError("a string of %d bytes is over the limit of %d bytes", size, maxStringBytes)
	}
	return strings.Join(parts, sep), nil
}
