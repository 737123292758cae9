package engine

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/conveyor-llm/conveyor/model"
)

// availableMemory is the memory the system can give without swapping
// (MemAvailable in /proc/meminfo), and whether it is known.
var availableMemory = func() (int64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemAvailable:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, false
			}
			return kb << 10, true
		}
	}
	return 0, false
}

// maxCacheRows is the most positions (sequences x context) a KV cache holds:
// cache rows are indexed with int32.
const maxCacheRows = math.MaxInt32

// sessionBytes is what a session of opts allocates: the KV cache and the
// scratch of a batch (counted in float64: no overflow).
func sessionBytes(h *model.Hyper, opts SessionOptions, types kvCacheTypes) (kv, scratch float64) {
	kRow, vRow := types.rowBytes(h.KVDim())
	perPos := float64(h.Layers) * float64(kRow+vRow)
	kv = perPos * float64(opts.Sequences) * float64(opts.Context)
	widths := 0.0
	for _, w := range h.Activations() {
		widths += float64(w)
	}
	scratch = 4 * (float64(opts.BatchSize)*(widths+4) + float64(opts.Sequences)*(float64(h.Vocab)+1))
	return kv, scratch
}

// checkMemory refuses a session that cannot fit in the memory available,
// before anything is allocated. Only the CPU backend's memory is known.
func (m *Model) checkMemory(opts SessionOptions, types kvCacheTypes) error {
	h := m.arch.Hyper()
	kv, scratch := sessionBytes(h, opts, types)
	if m.backend.Name() != "cpu" {
		return nil
	}
	avail, ok := availableMemory()
	if !ok || kv+scratch <= float64(avail) {
		return nil
	}
	perPos := kv / (float64(opts.Sequences) * float64(opts.Context))
	return fmt.Errorf("engine: a KV cache of %s needs %s (%s per position, %s cache) and %s of scratch, but %s of memory is available",
		cacheShape(opts), humanBytes(kv), humanBytes(perPos), types, humanBytes(scratch), humanBytes(float64(avail)))
}

// humanBytes is n bytes in the largest binary unit that keeps it above 1.
func humanBytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}

// cacheShape is "N sequences x C positions" with the right plural.
func cacheShape(o SessionOptions) string {
	seqs := "sequences"
	if o.Sequences == 1 {
		seqs = "sequence"
	}
	return fmt.Sprintf("%d %s x %d positions", o.Sequences, seqs, o.Context)
}
