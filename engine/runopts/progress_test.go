package runopts

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Not on a terminal (a log file, a pipe): plain lines, no carriage returns.
func TestLoadProgressPlainLinesOffATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := LoadProgress(&buf)
	total := int64(1 << 30)
	for done := int64(0); done <= total; done += total / 64 {
		p(done, total)
	}
	p(total, total)
	out := buf.String()
	require.NotContains(t, out, "\r")
	require.Contains(t, out, "loading: 1.0 of 1.0 GiB (100%)\n")
	require.LessOrEqual(t, strings.Count(out, "\n"), 3, "periodic, not one a tensor: %q", out)

	buf.Reset()
	p = lineProgress(&buf, 0)
	p(total/2, total)
	require.Equal(t, "loading: 0.5 of 1.0 GiB (50%)\n", buf.String())

	buf.Reset()
	p = LoadProgress(&buf)
	p(10, 100) // a small model: nothing
	require.Empty(t, buf.String())
}
