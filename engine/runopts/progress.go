package runopts

import (
	"io"
	"os"

	"github.com/schollz/progressbar/v3"

	"github.com/conveyor-llm/conveyor/model"
)

// largeModel is the size from which loading shows a progress bar.
const largeModel = 256 << 20

// LoadProgress returns a model.Progress that draws a bar on w (stderr) while
// a large model loads, and nothing for small ones.
func LoadProgress(w io.Writer) model.Progress {
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

// Stderr is where notes and stats go.
var Stderr io.Writer = os.Stderr
