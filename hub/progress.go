package hub

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/sys/unix"
)

// Progress follows one download.
type Progress interface {
	Update(done int64) // bytes of the file there so far
	Finish()
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// NewProgress returns the Client.Progress for w: a bar with bytes, speed and
// time left on a terminal, else a plain line every interval.
func NewProgress(w io.Writer, interval time.Duration) func(name string, total int64) Progress {
	term := IsTerminal(w)
	return func(name string, total int64) Progress {
		if term {
			max := total
			if max <= 0 {
				max = -1
			}
			bar := progressbar.NewOptions64(max, progressbar.OptionSetWriter(w), progressbar.OptionShowBytes(true),
				progressbar.OptionSetDescription(name), progressbar.OptionSetPredictTime(true),
				progressbar.OptionShowElapsedTimeOnFinish(), progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }), progressbar.OptionFullWidth())
			return &barProgress{bar: bar}
		}
		return &lineProgress{w: w, name: name, total: total, interval: interval, start: time.Now(), first: -1}
	}
}

type barProgress struct{ bar *progressbar.ProgressBar }

func (b *barProgress) Update(done int64) { _ = b.bar.Set64(done) }
func (b *barProgress) Finish()           { _ = b.bar.Finish() }

// lineProgress writes "NAME: 12.0 MiB of 1.1 GiB (1%), 5.2 MiB/s, 3m30s left".
type lineProgress struct {
	w           io.Writer
	name        string
	total       int64
	interval    time.Duration
	start, last time.Time
	first, done int64 // first: the bytes there when this run started
}

func (p *lineProgress) Update(done int64) {
	if p.first < 0 {
		p.first = done
	}
	p.done = done
	if time.Since(p.last) >= p.interval {
		p.last = time.Now()
		p.print("")
	}
}

func (p *lineProgress) Finish() {
	if p.first >= 0 {
		p.print(" done")
	}
}

func (p *lineProgress) print(suffix string) {
	el := time.Since(p.start).Seconds()
	speed := 0.0
	if el > 0 {
		speed = float64(p.done-p.first) / el
	}
	s := fmt.Sprintf("%s: %s", p.name, humanBytes(p.done))
	if p.total > 0 {
		s += fmt.Sprintf(" of %s (%.0f%%)", humanBytes(p.total), 100*float64(p.done)/float64(p.total))
	}
	s += fmt.Sprintf(", %s/s", humanBytes(int64(speed)))
	if p.total > 0 && speed > 0 && p.done < p.total {
		left := time.Duration(float64(p.total-p.done) / speed * float64(time.Second)).Round(time.Second)
		s += fmt.Sprintf(", %v left", left)
	}
	fmt.Fprintln(p.w, s+suffix)
}
