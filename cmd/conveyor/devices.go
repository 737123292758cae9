package main

import (
	"fmt"
	"github.com/conveyor-llm/conveyor/engine/runopts"
	"io"
	"text/tabwriter"

	"github.com/conveyor-llm/conveyor/engine"
)

func devicesCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("devices", stderr)
	asJSON := fs.Bool("json", false, "print the list as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	devs, err := engine.Devices()
	if err != nil {
		return err
	}
	if *asJSON {
		line, err := runopts.JSONLine(devs)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, string(line))
		return err
	}
	if len(devs) == 0 {
		fmt.Fprintln(stdout, "no Vulkan devices")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tname\ttype\tmemory\tsubgroup\tfp16\tint8\tmax buffer\tmax allocation\tVulkan")
	for _, d := range devs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%v\t%v\t%s\t%s\t%s\n", d.Index, d.Name, d.Type, human(float64(d.MemoryBytes), "B"),
			d.SubgroupSize, d.FP16, d.Int8, human(float64(d.MaxBufferRange), "B"), human(float64(d.MaxAllocation), "B"), d.API)
	}
	return tw.Flush()
}
