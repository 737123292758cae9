package hub

import (
	"bytes"
	"regexp"
	"testing"
	"time"
)

// TestLineProgress: off a terminal, progress is plain lines with bytes,
// percent, speed and time left, and a last line when done.
func TestLineProgress(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, time.Nanosecond)("o/r/m.gguf", 4<<20)
	p.Update(0)
	time.Sleep(10 * time.Millisecond)
	p.Update(1 << 20)
	p.Update(4 << 20)
	p.Finish()
	out := buf.String()
	for _, re := range []string{
		`(?m)^o/r/m\.gguf: 1\.0 MiB of 4\.0 MiB \(25%\), [0-9.]+ [KMG]i?B/s, \d.*s left$`,
		`(?m)^o/r/m\.gguf: 4\.0 MiB of 4\.0 MiB \(100%\), [0-9.]+ [KMG]i?B/s done$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("no line matching %s in:\n%s", re, out)
		}
	}
}
