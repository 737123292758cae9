package runopts

import (
	"flag"
	"testing"
)

// run and chat sample as llama.cpp does unless told otherwise; --temp 0 is greedy.
func TestSamplingDefaultsAreLlamaCpps(t *testing.T) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	o := Register(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	s := o.Request().Sampling
	if s.Temperature != 0.8 || s.TopK != 40 || s.TopP != 0.95 || s.MinP != 0.05 || s.RepeatPenalty != 1 {
		t.Fatalf("defaults %+v, want llama.cpp's (temp 0.8, top-k 40, top-p 0.95, min-p 0.05)", s)
	}
	o = Register(flag.NewFlagSet("run", flag.ContinueOnError))
	o.Temp = 0
	if s := o.Request().Sampling; s.Temperature != 0 {
		t.Fatalf("--temp 0: %+v", s)
	}
}
