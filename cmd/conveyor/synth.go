package main

import (
	"fmt"
	"io"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/model/synth"
	"github.com/conveyor-llm/conveyor/quantize"
)

func synthCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("synth", stderr)
	var c synth.Config
	fs.StringVar(&c.Arch, "arch", "llama", "architecture: llama, qwen3moe")
	fs.IntVar(&c.Dim, "dim", 0, "embedding width")
	fs.IntVar(&c.Layers, "layers", 0, "number of blocks")
	fs.IntVar(&c.Heads, "heads", 0, "attention heads")
	fs.IntVar(&c.KVHeads, "kv-heads", 0, "key/value heads (0: as many as heads)")
	fs.IntVar(&c.HeadDim, "head-dim", 0, "attention head size (0: dim/heads)")
	fs.IntVar(&c.FFN, "ffn", 0, "feed-forward width (qwen3moe: recorded only; 0: the expert width)")
	fs.IntVar(&c.Experts, "experts", 0, "experts per layer (0: a dense feed-forward)")
	fs.IntVar(&c.ExpertsUsed, "experts-used", 0, "experts chosen per token")
	fs.IntVar(&c.ExpertFFN, "expert-ffn", 0, "width of each expert's feed-forward (llama: --ffn)")
	fs.IntVar(&c.ContextLength, "context", 2048, "training context length to record")
	fs.StringVar(&c.VocabFrom, "vocab-from", "", "copy the vocabulary of this GGUF `file`")
	fs.IntVar(&c.VocabSize, "vocab-size", 0, "make up a vocabulary of this many tokens")
	typ := fs.String("type", "f32", "type of the 2-D weights: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs")
	mix := fs.String("mix", "", "choose each weight's type as conveyor quantize's `MIX` would (e.g. q4_k_m) instead of --type")
	fs.IntVar(&c.Pool, "pool", 0, "draw each quantized tensor's rows from this many random rows quantized once (fast, for speed tests; 0: every row its own)")
	seed := fs.Uint64("seed", 1, "random seed")
	out := fs.String("o", "", "output `file`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("%w: no output: give one with -o FILE", errUsage)
	}
	t, err := gguf.ParseType(*typ)
	if err != nil {
		return fmt.Errorf("%w: --type: %v", errUsage, err)
	}
	c.Type, c.Seed = t, *seed
	if *mix != "" {
		ft, err := quantize.ParseFileType(*mix)
		if err != nil {
			return fmt.Errorf("%w: --mix: %v", errUsage, err)
		}
		kv := c.KVHeads
		if kv == 0 {
			kv = c.Heads
		}
		p := &quantize.Planner{FileType: ft, Model: quantize.Model{Arch: c.Arch, Heads: c.Heads, KVHeads: kv,
			Experts: c.Experts, HasOutput: true, AttnV: c.Layers, FFNDown: c.Layers}}
		c.Type, c.FileType = ft.Base(), int(ft)
		c.TypeOf = func(name string, dims []uint64) gguf.Type {
			return p.Plan(gguf.TensorInfo{Name: name, Dims: dims, Type: gguf.TypeF32}).Type
		}
	}
	if err := synth.Write(*out, c); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s\n", *out)
	return nil
}
