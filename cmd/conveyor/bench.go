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
	path := fs.String("m", "", "model `file` (GGUF; default: the embedded stories260K)")
	hf := hfFlag(fs)
	prompt := fs.Int("p", 512, "prompt tokens processed as one batch (0: skip)")
	gen := fs.Int("n", 128, "tokens generated one at a time after an 8-token prompt (0: skip)")
	depth := fs.Int("d", 0, "context `tokens` prefilled first, untimed, as llama-bench's -d: pp and tg are measured after them")
	ubatch := fs.Int("ub", 0, "most prompt tokens computed in one pass, as llama.cpp's n_ubatch (0: the backend's default, 256 on the CPU, 512 on a GPU)")
	threads := fs.Int("t", 0, "CPU threads (0: one per core)")
	reps := fs.Int("r", 3, "repetitions after a warm-up; the median is reported")
	backendName := fs.String("backend", "auto", "backend: auto, cpu, vulkan or cuda")
	device := fs.Int("device", -1, "device number of the backend, as `conveyor devices` lists them (-1: the best)")
	asJSON := fs.Bool("json", false, "print one JSON object on one line")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed runs (after the -d context) to `file` (go tool pprof)")
	cacheType := fs.String("cache-type", "f16", "KV cache type of keys and values: f16, f32, q8_0 or q4_0 (-ctk and -ctv set them apart)")
	accel := runopts.RegisterAccel(fs)
	memBW := fs.Bool("membw", true, "after the runs, measure the machine's streaming read bandwidth on the same threads and report decode's share of it")
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := resolveModel(modelOrDefault(*path, fs), *hf, stderr)
	if err != nil {
		return err
	}
	if *prompt < 0 || *gen < 0 || *ubatch < 0 || *depth < 0 || *reps <= 0 {
		return fmt.Errorf("%w: -p, -n, -d and -ub must not be negative, -r must be positive", errUsage)
	}
	if err := accel.Resolve(cacheType, backendName); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	m, err := loadInterruptibly(p, engine.Options{Backend: *backendName, Device: *device, DeviceSet: *device >= 0, Threads: *threads, GPULayers: accel.EngineLayers(),
		Progress: runopts.LoadProgress(stderr), Log: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }}, stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	profiling := false
	opts := engine.BenchOptions{Prompt: *prompt, Gen: *gen, Reps: *reps, UBatch: *ubatch, Depth: *depth, CacheType: *cacheType,
		KeyCacheType: accel.CacheK, ValueCacheType: accel.CacheV}
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
	// Peak memory is read before the bandwidth test allocates its buffer.
	rss := peakRSSMiB()
	wb := m.DecodeWeightBytes()
	decodeGBs := float64(wb) * res.GenTokPerS / 1e9
	var readGBs float64
	if *memBW && *gen > 0 && m.Backend().Name() == "cpu" {
		readGBs = engine.ReadBandwidth(*threads) / 1e9
	}
	if *asJSON {
		fields := map[string]any{
			pp: res.PromptTokPerS, tg: res.GenTokPerS, "load_s": m.LoadTime.Seconds(), "peak_rss_mb": rss,
			"backend": m.Backend().Name(), "device": m.Backend().Device(), "model": p, "reps": *reps,
			"depth": *depth, "weights_mb_per_token": float64(wb) / (1 << 20), "decode_weights_gb_s": decodeGBs,
		}
		if res.PerToken != nil {
			fields["per_token"] = res.PerToken
		}
		if readGBs > 0 {
			fields["mem_read_gb_s"] = readGBs
			fields["decode_bw_fraction"] = decodeGBs / readGBs
		}
		line, err := runopts.JSONLine(fields)
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
	name := p
	if name == "" {
		name = "stories260K (embedded)"
	}
	fmt.Fprintf(stdout, "%-*s %s\n%-*s %s (%s)\n%-*s %.2f s\n%-*s %.2f tok/s\n%-*s %.2f tok/s\n%-*s %.0f MiB\n",
		w, "model", name, w, "backend", m.Backend().Name(), m.Backend().Device(), w, "load", m.LoadTime.Seconds(),
		w, ppLabel, res.PromptTokPerS, w, tgLabel, res.GenTokPerS, w, "peak RSS", rss)
	if *gen > 0 {
		fmt.Fprintf(stdout, "%-*s %.1f MiB of weights a token, %.2f GB/s", w, "decode", float64(wb)/(1<<20), decodeGBs)
		if readGBs > 0 {
			fmt.Fprintf(stdout, " = %.0f%% of the %.2f GB/s streaming read rate", 100*decodeGBs/readGBs, readGBs)
		}
		fmt.Fprintln(stdout)
		if pt := res.PerToken; pt != nil {
			fmt.Fprintf(stdout, "%-*s %.0f dispatches, %.0f barriers, %.1f submits, %.0f µs recording (median %.0f), %.0f bytes read back\n",
				w, "a token", pt.Dispatches, pt.Barriers, pt.Submits, pt.RecordUS, pt.RecordUSMedian, pt.ReadbackBytes)
		}
	}
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
