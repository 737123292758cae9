package runopts

import (
	"flag"
	"strings"
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

// -ctk and -ctv set the keys' and the values' cache types apart, as in
// llama.cpp; --cache-type sets both, and each of -ctk and -ctv not given
// is --cache-type's. Types are checked one by one, naming the bad one.
func TestCacheTypeFlags(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		k, v, both string
		err        string
	}{
		{nil, "f16", "f16", "f16", ""},
		{[]string{"--cache-type", "q8_0"}, "q8_0", "q8_0", "q8_0", ""},
		{[]string{"-ctk", "q8_0", "-ctv", "f16"}, "q8_0", "f16", "f16", ""},
		{[]string{"-ctk", "Q4_0"}, "q4_0", "f16", "f16", ""},
		{[]string{"--cache-type", "q8_0", "--cache-type-v", "f32"}, "q8_0", "f32", "q8_0", ""},
		{[]string{"-ctk", "f16", "-ctv", "q5_1"}, "", "", "", "q5_1 is not supported yet"},
		{[]string{"-ctk", "q9_0"}, "", "", "", `"q9_0" is unknown`},
	} {
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		o := Register(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		err := o.Check()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("%v: error %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		s := o.Session()
		if s.KeyCacheType != tc.k || s.ValueCacheType != tc.v || s.CacheType != tc.both {
			t.Fatalf("%v: keys %q, values %q, cache type %q; want %q, %q, %q", tc.args, s.KeyCacheType, s.ValueCacheType, s.CacheType, tc.k, tc.v, tc.both)
		}
	}
}
