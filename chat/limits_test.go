package chat

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Hostile templates fail with an error for their rendering; nothing is
// allocated past the budgets and nothing overflows the stack.
func TestSandboxBudgets(t *testing.T) {
	// The time budget has its own test; here it must not fire first (10^6
	// loop iterations take over 5 s under -race on a busy machine).
	old := MaxRenderTime
	MaxRenderTime = 5 * time.Minute
	defer func() { MaxRenderTime = old }()
	for _, tc := range []struct{ name, src, want string }{
		{"string repeat", `{{ 'a' * 10000000000 }}`, "over the limit"},
		{"string repeat, int first", `{{ 10000000000 * 'ab' }}`, "over the limit"},
		{"repeat of a huge power", `{{ 'a' * 10**12 }}`, "over the limit"},
		{"list repeat", `{{ ([1, 2] * 10000000000) | length }}`, "over the limit"},
		{"doubling", `{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s | length }}`, "over the limit"},
		{"doubling with ~", `{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}`, "over the limit"},
		{"range", `{{ range(10**12) | length }}`, "Range too big"},
		{"nested loops", `{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}`, "loop iterations"},
		{"output", `{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}`, "output is over the limit"},
		{"replace", `{{ ('a' * 1000000) | replace('a', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb') }}`, "over the limit"},
		{"replace method", `{{ ('a' * 1000000).replace('a', 'a' * 100) }}`, "over the limit"},
		{"indent", `{{ 'a\nb' | indent(10000000000) }}`, "over the limit"},
		{"zfill", `{{ 'a'.zfill(10000000000) }}`, "over the limit"},
		{"percent width", `{{ '%10000000000s' % 'a' }}`, "over the limit"},
		{"tojson indent", `{{ [1] | tojson(indent=10000000000) }}`, "over the limit"},
		{"join", `{{ ['a' * 20000000, 'b' * 20000000] | join(',') }}`, "over the limit"},
		{"int overflow +", `{{ 9223372036854775807 + 1 }}`, "OverflowError"},
		{"int overflow -", `{{ -9223372036854775807 - 2 }}`, "OverflowError"},
		{"int overflow *", `{{ 4294967296 * 4294967296 }}`, "OverflowError"},
		{"int overflow **", `{{ 2 ** 64 }}`, "OverflowError"},
		{"huge exponent", `{{ 1 ** 1000000000000 }}{{ 2 ** 1000000000000 }}`, "OverflowError"},
		{"nested parentheses", `{{ ` + strings.Repeat("(", 1000000) + `1` + strings.Repeat(")", 1000000) + ` }}`, "nested more than"},
		{"nested not", `{{ ` + strings.Repeat("not ", 100000) + `1 }}`, "nested more than"},
		{"nested minus", `{{ ` + strings.Repeat("-", 100000) + `1 }}`, "nested more than"},
		{"nested lists", `{{ ` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + ` }}`, "nested more than"},
		{"nested ifs", strings.Repeat("{% if true %}", 100000) + strings.Repeat("{% endif %}", 100000), "nested more than"},
		{"long chain", `{{ 1` + strings.Repeat(" + 1", 100000) + ` }}`, "nested more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(tc.src, Input{Messages: []map[string]any{{"role": "user", "content": "hi"}}})
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			var raise *RaiseError
			require.False(t, errors.As(err, &raise))
		})
	}
	// What stays inside the budgets still works.
	for src, want := range map[string]string{
		`{{ 'ab' * 3 }}`:                 "ababab",
		`{{ 2 ** 62 }}`:                  "4611686018427387904",
		`{{ -9223372036854775807 - 1 }}`: "-9223372036854775808",
		`{{ 3037000499 * 3037000499 }}`:  "9223372030926249001",
		`{{ (((1 + 2))) * -(-3) }}`:      "9",
		`{{ 7 // -2 }} {{ -7 % 3 }}`:     "-4 2",
		`{{ range(5) | sum }}`:           "10",
		`{{ 'a'.zfill(3) }}`:             "00a",
	} {
		out, err := Render(src, Input{})
		require.NoError(t, err, src)
		require.Equal(t, want, out, src)
	}
}

// A rendering stops at MaxRenderTime and when its context ends.
func TestRenderTimeAndCancel(t *testing.T) {
	slow := `{% for i in range(100000) %}{% for j in range(9) %}{{ (i ~ j) | upper | length }}{% endfor %}{% endfor %}`
	old := MaxRenderTime
	MaxRenderTime = 20 * time.Millisecond
	start := time.Now()
	_, err := Render(slow, Input{})
	MaxRenderTime = old
	require.ErrorContains(t, err, "rendering took more than 20ms")
	require.Less(t, time.Since(start), 2*time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Render(slow, Input{Context: ctx})
	require.ErrorIs(t, err, context.Canceled)

	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = Render(slow, Input{Context: ctx})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	out, err := Render(`{% for i in range(3) %}{{ i }}{% endfor %}`, Input{Context: context.Background()})
	require.NoError(t, err)
	require.Equal(t, "012", out)
}

// Macro recursion is bounded by an explicit call depth.
func TestCallDepthLimit(t *testing.T) {
	_, err := Render(`{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}`, Input{})
	require.ErrorContains(t, err, "maximum recursion depth exceeded (200 macro calls)")
	out, err := Render(`{% macro f(n) %}{% if n < 150 %}{{ f(n + 1) }}{% else %}{{ n }}{% endif %}{% endmacro %}{{ f(0) }}`, Input{})
	require.NoError(t, err)
	require.Equal(t, "150", out)
}
