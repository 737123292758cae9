package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/engine/runopts"
)

// devicesCmd lists the Vulkan devices, then the CUDA devices, each numbered
// as --device takes them for its backend. It fails only when neither API
// can be used, saying why for both.
func devicesCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("devices", stderr)
	asJSON := fs.Bool("json", false, "print the list as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	vkDevs, vkErr := engine.Devices()
	cuDevs, cuErr := engine.CUDADevices()
	if vkErr != nil && cuErr != nil {
		return errors.New(vkErr.Error() + "; " + cuErr.Error())
	}
	devs := append(append([]engine.Device{}, vkDevs...), cuDevs...)
	if *asJSON {
		line, err := runopts.JSONLine(devs)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, string(line))
		return err
	}
	switch {
	case vkErr != nil:
		fmt.Fprintln(stdout, vkErr)
	case len(vkDevs) == 0:
		fmt.Fprintln(stdout, "no Vulkan devices")
	default:
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tname\ttype\tmemory\tsubgroup\tfp16\tint8\tmax buffer\tmax allocation\tVulkan")
		for _, d := range vkDevs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%v\t%v\t%s\t%s\t%s\n", d.Index, d.Name, d.Type, human(float64(d.MemoryBytes), "B"),
				d.SubgroupSize, d.FP16, d.Int8, human(float64(d.MaxBufferRange), "B"), human(float64(d.MaxAllocation), "B"), d.API)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	switch {
	case cuErr != nil:
		fmt.Fprintln(stdout, cuErr)
	case len(cuDevs) == 0:
		fmt.Fprintln(stdout, "no CUDA devices")
	default:
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tname (CUDA)\ttype\tmemory\tbandwidth\tarchitecture")
		for _, d := range cuDevs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", d.Index, d.Name, d.Type, human(float64(d.MemoryBytes), "B"),
				human(d.BandwidthGBs*1e9, "B/s"), d.API)
		}
		return tw.Flush()
	}
	return nil
}
