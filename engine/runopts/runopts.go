// Package runopts holds the command-line flags of a generation run, shared by
// `conveyor run` and examples/generate, named as a llama.cpp user would guess
// them, and the one-line JSON result both print with --json.
package runopts

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/conveyor-llm/conveyor/engine"
)

// Options are the flags of one run.
type Options struct {
	Model         string
	Prompt        string
	Tokens        int
	Context       int
	Batch         int
	Threads       int
	Temp          float64
	TopK          int
	TopP          float64
	MinP          float64
	RepeatPenalty float64
	RepeatLastN   int
	Seed          int64
	IgnoreEOS     bool
	Backend       string
	Device        int
	JSON          bool
	TopLogits     int
	CacheType     string
	Stop          stopList
	PromptFile    string
	Keep          int
	NoShift       bool
	Accel         *Accel
	Version       bool
	// GrammarFile (GBNF) or JSONSchemaFile constrains the output; Check reads them.
	GrammarFile    string
	JSONSchemaFile string
	grammar        string
	schema         string
}

type stopList []string

func (s *stopList) String() string     { return strings.Join(*s, ",") }
func (s *stopList) Set(v string) error { *s = append(*s, v); return nil }

// DefaultSampling is llama.cpp's sampling defaults, which run, chat and serve
// use for what is not set: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05.
// (engine.DefaultSampling, the library's, is greedy.)
func DefaultSampling() engine.Sampling {
	return engine.Sampling{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1, RepeatLastN: 64}
}

// Register defines the run flags on fs.
func Register(fs *flag.FlagSet) *Options {
	o := &Options{}
	fs.StringVar(&o.Model, "m", "", "model `file` (GGUF; default: the embedded stories260K)")
	fs.StringVar(&o.Model, "model", "", "model `file`, same as -m")
	fs.StringVar(&o.Prompt, "p", "", "prompt `text` (empty: generate from BOS)")
	fs.StringVar(&o.Prompt, "prompt", "", "prompt `text`, same as -p")
	fs.StringVar(&o.PromptFile, "f", "", "read the prompt from this `file`")
	fs.StringVar(&o.PromptFile, "file", "", "same as -f")
	fs.IntVar(&o.Tokens, "n", -1, "number of tokens to generate (-1: until end of generation or a full context; 0: none)")
	fs.IntVar(&o.Tokens, "n-predict", -1, "same as -n")
	fs.IntVar(&o.Context, "c", 0, "context size in tokens (0: the model's, at most 4096)")
	fs.IntVar(&o.Context, "ctx-size", 0, "same as -c")
	fs.IntVar(&o.Batch, "b", 0, "prompt tokens per forward pass (0: the backend's default, 256 on the CPU, 512 on a GPU)")
	fs.IntVar(&o.Batch, "batch-size", 0, "same as -b")
	fs.IntVar(&o.Threads, "t", 0, "CPU threads (0: one per core)")
	fs.IntVar(&o.Threads, "threads", 0, "same as -t")
	d := DefaultSampling()
	fs.Float64Var(&o.Temp, "temp", float64(d.Temperature), "temperature (0: greedy)")
	fs.IntVar(&o.TopK, "top-k", d.TopK, "top-k sampling (0: off)")
	fs.Float64Var(&o.TopP, "top-p", float64(d.TopP), "top-p sampling (1: off)")
	fs.Float64Var(&o.MinP, "min-p", float64(d.MinP), "min-p sampling (0: off)")
	fs.Float64Var(&o.RepeatPenalty, "repeat-penalty", 1, "repetition penalty (1: off)")
	fs.IntVar(&o.RepeatLastN, "repeat-last-n", 64, "tokens the repetition penalty looks back over (-1: the whole context)")
	fs.Int64Var(&o.Seed, "seed", -1, "random seed (-1: random)")
	fs.Int64Var(&o.Seed, "s", -1, "same as --seed")
	fs.BoolVar(&o.IgnoreEOS, "ignore-eos", false, "go on past end-of-generation tokens (they are never sampled)")
	fs.StringVar(&o.Backend, "backend", "auto", "backend: auto, cpu, vulkan or cuda")
	fs.IntVar(&o.Device, "device", -1, "device number of the backend (Vulkan, or CUDA where auto picks it), as `conveyor devices` lists them (-1: the best)")
	fs.BoolVar(&o.JSON, "json", false, "print one JSON object on one line instead of streaming text")
	fs.IntVar(&o.TopLogits, "top-logits", 0, "with --json, include the `K` largest raw logits after the prompt")
	fs.StringVar(&o.CacheType, "cache-type", "f16", "KV cache type of keys and values: f16, f32, q8_0 or q4_0 (-ctk and -ctv set them apart)")
	fs.Var(&o.Stop, "stop", "stop at this `text` (repeatable)")
	fs.IntVar(&o.Keep, "keep", 0, "tokens of the prompt a context shift keeps, besides BOS, as llama.cpp's --keep (-1: the whole prompt)")
	fs.BoolVar(&o.NoShift, "no-context-shift", false, "end generation at a full context instead of dropping the oldest tokens (after --keep) and going on")
	fs.BoolVar(&o.Version, "version", false, "print the version and exit")
	o.Accel = RegisterAccel(fs)
	fs.StringVar(&o.GrammarFile, "grammar", "", "constrain the output to the GBNF grammar in `file` (llama.cpp's format)")
	fs.StringVar(&o.JSONSchemaFile, "json-schema", "", "constrain the output to JSON that validates against the JSON Schema in `file`")
	return o
}

// Check reports flag values that cannot work.
func (o *Options) Check() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !finite(o.Temp) || o.Temp < 0:
		return fmt.Errorf("--temp must be a number, 0 or more, got %v", o.Temp)
	case !finite(o.TopP) || o.TopP <= 0 || o.TopP > 1:
		return fmt.Errorf("--top-p must be in (0, 1], got %v", o.TopP)
	case !finite(o.MinP) || o.MinP < 0 || o.MinP >= 1:
		return fmt.Errorf("--min-p must be in [0, 1), got %v", o.MinP)
	case o.TopK < 0:
		return fmt.Errorf("--top-k must be 0 or more, got %d", o.TopK)
	case !finite(o.RepeatPenalty) || o.RepeatPenalty <= 0:
		return fmt.Errorf("--repeat-penalty must be a positive number, got %v", o.RepeatPenalty)
	case o.RepeatLastN < -1:
		return fmt.Errorf("--repeat-last-n must be -1 (the whole context) or more, got %d", o.RepeatLastN)
	case o.Tokens < -1:
		return fmt.Errorf("-n must be -1 (no limit), 0 (generate nothing) or more, got %d", o.Tokens)
	case o.Keep < -1:
		return fmt.Errorf("--keep must be -1 (the whole prompt) or more, got %d", o.Keep)
	case o.TopLogits < 0:
		return fmt.Errorf("--top-logits must not be negative, got %d", o.TopLogits)
	case o.Context < 0 || o.Batch < 0 || o.Threads < 0:
		return errors.New("-c, -b and -t must not be negative")
	case o.GrammarFile != "" && o.JSONSchemaFile != "":
		return errors.New("give --grammar or --json-schema, not both")
	}
	for _, f := range []struct {
		flag, path string
		dst        *string
	}{{"--grammar", o.GrammarFile, &o.grammar}, {"--json-schema", o.JSONSchemaFile, &o.schema}} {
		if f.path == "" {
			continue
		}
		b, err := os.ReadFile(f.path)
		if err != nil {
			return fmt.Errorf("%s: %w", f.flag, err)
		}
		*f.dst = string(b)
	}
	if err := (engine.Request{Grammar: o.grammar, JSONSchema: o.schema}).Validate(); err != nil {
		return fmt.Errorf("--grammar/--json-schema: %w", err)
	}
	if o.PromptFile != "" {
		if o.Prompt != "" {
			return errors.New("give the prompt with -p or -f, not both")
		}
		b, err := os.ReadFile(o.PromptFile)
		if err != nil {
			return fmt.Errorf("-f: %w", err)
		}
		if !utf8.Valid(b) {
			return fmt.Errorf("-f %s is not UTF-8 text", o.PromptFile)
		}
		o.Prompt = string(b)
	}
	if o.Accel != nil {
		return o.Accel.Resolve(&o.CacheType, &o.Backend)
	}
	return CheckCacheType(o.CacheType)
}

// Engine is the engine options the flags choose.
func (o *Options) Engine() engine.Options {
	return engine.Options{Backend: o.Backend, Device: o.Device, DeviceSet: o.Device >= 0, Threads: o.Threads,
		Session: o.Session(), GPULayers: o.Accel.EngineLayers()}
}

// Session is the session options the flags choose.
func (o *Options) Session() engine.SessionOptions {
	s := engine.SessionOptions{Context: o.Context, BatchSize: o.Batch, CacheType: o.CacheType,
		ContextShift: !o.NoShift, Keep: o.Keep}
	o.Accel.Session(&s)
	return s
}

// Request is the generation request the flags describe.
func (o *Options) Request() engine.Request {
	seed := uint64(o.Seed)
	if o.Seed < 0 {
		seed = rand.Uint64()
	}
	return engine.Request{
		Prompt:    o.Prompt,
		MaxTokens: o.Tokens,
		Sampling: engine.Sampling{Temperature: float32(o.Temp), TopK: o.TopK, TopP: float32(o.TopP), MinP: float32(o.MinP),
			RepeatPenalty: float32(o.RepeatPenalty), RepeatLastN: o.RepeatLastN, Seed: seed},
		Stop:      o.Stop,
		IgnoreEOS: o.IgnoreEOS,
		TopLogits: o.TopLogits,

		Grammar:    o.grammar,
		JSONSchema: o.schema,
	}
}

// JSON is a run's result as one line of JSON.
func JSON(res *engine.Result) ([]byte, error) {
	out := struct {
		PromptIDs    []int32      `json:"prompt_ids"`
		GeneratedIDs []int32      `json:"generated_ids"`
		Text         string       `json:"text"`
		StopReason   string       `json:"stop_reason"`
		Stats        engine.Stats `json:"stats"`
		TopLogits    [][2]float64 `json:"top_logits,omitempty"`
	}{res.PromptIDs, res.GeneratedIDs, res.Text, res.StopReason, res.Stats, nil}
	if out.GeneratedIDs == nil {
		out.GeneratedIDs = []int32{}
	}
	for _, tl := range res.TopLogits {
		out.TopLogits = append(out.TopLogits, [2]float64{float64(tl.ID), float64(tl.Logit)})
	}
	return JSONLine(out)
}
