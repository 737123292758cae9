package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/engine/runopts"
)

func benchCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr)
	path := fs.String("m", "", "model `file` (GGUF)")
	prompt := fs.Int("p", 512, "prompt tokens processed as one batch (0: skip)")
	gen := fs.Int("n", 128, "tokens generated one at a time after an 8-token prompt (0: skip)")
	depth := fs.Int("d", 0, "context `tokens` prefilled first, untimed, as llama-bench's -d: pp and tg are measured after them")
	ubatch := fs.Int("ub", 0, "most prompt tokens computed in one pass, as llama.cpp's n_ubatch (0: the backend's default, 256 on the CPU, 512 on a GPU)")
	threads := fs.Int("t", 0, "CPU threads (0: one per core)")
	reps := fs.Int("r", 3, "repetitions after a warm-up; the median is reported")
	backendName := fs.String("backend", "auto", "backend: auto, cpu or vulkan")
	device := fs.Int("device", -1, "Vulkan device number (-1: the best)")
	asJSON := fs.Bool("json", false, "print one JSON object on one line")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed runs (after the -d context) to `file` (go tool pprof)")
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := modelArg(*path, fs)
	if err != nil {
		return err
	}
	if *prompt < 0 || *gen < 0 || *ubatch < 0 || *depth < 0 || *reps <= 0 {
		return fmt.Errorf("%w: -p, -n, -d and -ub must not be negative, -r must be positive", errUsage)
	}
	m, err := engine.Load(p, engine.Options{Backend: *backendName, Device: *device, DeviceSet: *device >= 0, Threads: *threads,
		Progress: runopts.LoadProgress(stderr), Log: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }})
	if err != nil {
		return err
	}
	defer m.Close()
	profiling := false
	opts := engine.BenchOptions{Prompt: *prompt, Gen: *gen, Reps: *reps, UBatch: *ubatch, Depth: *depth}
	var profErr error
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		// The profile starts after the -d context is prefilled.
		opts.Started = func() {
			if profErr = pprof.StartCPUProfile(f); profErr == nil {
				profiling = true
			}
		}
		defer func() {
			if profiling {
				pprof.StopCPUProfile()
			}
		}()
	}
	res, err := m.Bench(opts)
	if err != nil {
		return err
	}
	if profErr != nil {
		return profErr
	}
	pp, tg := fmt.Sprintf("pp%d_tok_s", *prompt), fmt.Sprintf("tg%d_tok_s", *gen)
	if *asJSON {
		line, err := runopts.JSONLine(map[string]any{
			pp: res.PromptTokPerS, tg: res.GenTokPerS, "load_s": m.LoadTime.Seconds(), "peak_rss_mb": peakRSSMiB(),
			"backend": m.Backend().Name(), "device": m.Backend().Device(), "model": p, "reps": *reps, "depth": *depth,
		})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, string(line))
		return err
	}
	// Tests are labelled as llama-bench labels them: "pp512 @ d4096".
	at := ""
	if *depth > 0 {
		at = fmt.Sprintf(" @ d%d", *depth)
	}
	ppLabel, tgLabel := fmt.Sprintf("pp%d%s", *prompt, at), fmt.Sprintf("tg%d%s", *gen, at)
	w := max(8, len(ppLabel), len(tgLabel))
	fmt.Fprintf(stdout, "model    %s\nbackend  %s (%s)\nload     %.2f s\n%-*s %.2f tok/s\n%-*s %.2f tok/s\npeak RSS %.0f MiB\n",
		p, m.Backend().Name(), m.Backend().Device(), m.LoadTime.Seconds(),
		w, ppLabel, res.PromptTokPerS, w, tgLabel, res.GenTokPerS, peakRSSMiB())
	return nil
}

// peakRSSMiB is the process's peak resident set (VmHWM), 0 where unknown.
func peakRSSMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}
