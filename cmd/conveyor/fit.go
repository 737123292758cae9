package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/engine/runopts"
)

// fitFlags are info's --fit and the session it sizes.
type fitFlags struct {
	on                 bool
	ctx, parallel      int
	backend, cacheType string
	cacheK, cacheV     string
	device             int
}

func registerFit(fs *flag.FlagSet) *fitFlags {
	f := &fitFlags{}
	fs.BoolVar(&f.on, "fit", false, "estimate the memory the model takes loaded, with a session of -c positions, and compare it with the free memory")
	fs.IntVar(&f.ctx, "c", 0, "with --fit: context per sequence (0: the model's, at most 4096)")
	fs.IntVar(&f.ctx, "ctx-size", 0, "same as -c")
	fs.IntVar(&f.parallel, "parallel", 1, "with --fit: sequences side by side (serve's --parallel)")
	fs.StringVar(&f.backend, "backend", "auto", "with --fit: auto, cpu, vulkan or cuda")
	fs.IntVar(&f.device, "device", -1, "with --fit: device number of the backend (-1: the best)")
	fs.StringVar(&f.cacheType, "cache-type", "f16", "with --fit: KV cache type of keys and values, f16, f32, q8_0 or q4_0")
	for _, name := range []string{"ctk", "cache-type-k"} {
		fs.StringVar(&f.cacheK, name, "", "with --fit: cache type of the keys, as llama.cpp's -ctk (default: --cache-type's)")
	}
	for _, name := range []string{"ctv", "cache-type-v"} {
		fs.StringVar(&f.cacheV, name, "", "with --fit: cache type of the values, as llama.cpp's -ctv (default: --cache-type's)")
	}
	return f
}

// fitCmd prints the estimate of `conveyor info --fit`: by part and weight
// type, against free host memory and, on Vulkan, the device's.
func fitCmd(path string, ff *fitFlags, stdout, stderr io.Writer) error {
	if ff.ctx < 0 || ff.parallel <= 0 {
		return fmt.Errorf("%w: -c must not be negative and --parallel must be positive", errUsage)
	}
	accel := runopts.Accel{CacheK: ff.cacheK, CacheV: ff.cacheV, FlashAttn: "auto", GPULayers: -1}
	if err := accel.Resolve(&ff.cacheType, &ff.backend); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	f, err := openModelFile(path, stderr)
	if err != nil {
		return err
	}
	defer f.Close()
	opts := engine.Options{Backend: ff.backend, Device: ff.device, DeviceSet: ff.device >= 0}
	sopts := engine.SessionOptions{Context: ff.ctx, Sequences: ff.parallel, CacheType: ff.cacheType}
	accel.Session(&sopts)
	fit, err := engine.EstimateFit(f, opts, sopts)
	if err != nil {
		return err
	}
	where := "host RAM"
	if fit.Backend != "cpu" {
		where = "device memory of " + fit.Device
	}
	fmt.Fprintf(stdout, "backend:  %s\n", fit.Backend)
	fmt.Fprintf(stdout, "session:  %d x %d positions, %s cache, batches of %d\n\n", fit.Sequences, fit.Context, fit.CacheType, fit.BatchSize)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "weights (%s)\t%s\t\n", where, mib(fit.WeightBytes))
	for _, w := range fit.Weights {
		fmt.Fprintf(tw, "  %s\t%s\t%s parameters\t\n", w.Type, mib(w.Bytes), human(float64(w.Params), ""))
	}
	fmt.Fprintf(tw, "KV cache (%s)\t%s\t\n", where, mib(fit.KV))
	fmt.Fprintf(tw, "scratch (%s)\t%s\t\n", where, mib(fit.Scratch))
	fmt.Fprintf(tw, "process (host RAM: runtime, tokenizer)\t%s\t\n", mib(fit.Process))
	tw.Flush()
	fmt.Fprintln(stdout)
	host := fit.Host
	if fit.DeviceInHost {
		host += fit.DeviceBytes
	}
	free := "unknown"
	if fit.HostKnown {
		free = mib(fit.HostFree)
	}
	fmt.Fprintf(stdout, "host:     %s needed, %s available (MemAvailable and this process)\n", mib(host), free)
	if fit.Backend != "cpu" {
		dfree := "unknown"
		if fit.DeviceKnown {
			dfree = mib(fit.DeviceFree) + " (" + fit.DeviceFreeSource + ")"
		}
		fmt.Fprintf(stdout, "device:   %s needed, %s\n", mib(fit.DeviceBytes), dfree)
		if fit.DeviceInHost {
			fmt.Fprintln(stdout, "          (a CPU-emulated device: its memory is host RAM, counted above too)")
		}
	}
	if err := fit.Check(); err != nil {
		fmt.Fprintf(stdout, "fits:     no\n%v\n", err)
		return nil
	}
	fmt.Fprintln(stdout, "fits:     yes")
	return nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
