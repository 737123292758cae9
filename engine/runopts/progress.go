package runopts

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/conveyor-llm/conveyor/model"
)

// largeModel is the size from which loading shows its progress.
const largeModel = 256 << 20

// LoadProgress returns a model.Progress that shows how a large model loads
// on w (stderr): a bar when w is a terminal, else a plain line at most every
// few seconds (and at the end), so a log file gets no carriage returns.
// Small models show nothing.
func LoadProgress(w io.Writer) model.Progress {
	if isTerminal(w) {
		return barProgress(w)
	}
	return lineProgress(w, 5*time.Second)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func barProgress(w io.Writer) model.Progress {
	var bar *progressbar.ProgressBar
	return func(done, total int64) {
		if total < largeModel {
			return
		}
		if bar == nil {
			bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(w), progressbar.OptionShowBytes(true),
				progressbar.OptionSetDescription("loading"), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100e6))
		}
		_ = bar.Set64(done)
		if done >= total {
			_ = bar.Finish()
		}
	}
}

// lineProgress writes "loading: 1.2 of 4.0 GiB (30%)" lines, the first
// after every seconds, then every every, and one when done.
func lineProgress(w io.Writer, every time.Duration) model.Progress {
	var start, last time.Time
	return func(done, total int64) {
		if total < largeModel {
			return
		}
		now := time.Now()
		if start.IsZero() {
			start, last = now, now
		}
		if done < total && now.Sub(last) < every {
			return
		}
		last = now
		fmt.Fprintf(w, "loading: %.1f of %.1f GiB (%d%%)\n", float64(done)/(1<<30), float64(total)/(1<<30), done*100/total)
	}
}

// Stderr is where notes and stats go.
var Stderr io.Writer = os.Stderr
