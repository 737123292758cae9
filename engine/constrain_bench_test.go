package engine

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/grammar"
	"github.com/conveyor-llm/conveyor/internal/testdata"
	"github.com/conveyor-llm/conveyor/tokenizer"
)

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs f b.N times and reports the CPU time per run beside the wall
// time (on a busy machine the CPU time is the steadier of the two).
func loop(b *testing.B, f func()) {
	start := cpuTime()
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkGrammar measures the JSON grammar's cost per token on the 32k
// (llama-spm) and 128k (Llama 3) vocabularies, in a string, where most tokens
// pass, and after "{", where few do:
//
//   - "mask": the mask (the allowed tokens, -inf on the rejected logits) of a
//     state seen before (the masker keeps recent states' masks);
//   - "mask-cold": the same with a new masker each time: the trie walk, and
//     building the automaton's states and transitions it meets;
//   - "sample": constraint.sample on random logits (the draw checked first,
//     the mask and a second draw over the allowed tokens when it fails), to
//     compare with "unconstrained", the sampler alone on the same logits: the
//     ratio is what the grammar adds to the sampler's time per token.
func BenchmarkGrammar(b *testing.B) {
	src, err := os.ReadFile(filepath.Join("..", "grammar", "testdata", "json.gbnf"))
	if err != nil {
		b.Fatal(err)
	}
	g, err := grammar.Parse(string(src))
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range []struct{ name, file string }{
		{"32k", "tokenizer-tests/llamacpp/ggml-vocab-llama-spm.gguf"},
		{"128k", "tokenizer-tests/llamacpp/ggml-vocab-llama-bpe.gguf"},
	} {
		f, err := gguf.Open(testdata.Path(b, v.file))
		if err != nil {
			b.Fatal(err)
		}
		tok, err := tokenizer.FromGGUF(f)
		if err != nil {
			b.Fatal(err)
		}
		var gv grammarVocab
		n := tok.VocabSize()
		logits := make([]float32, n)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range logits {
			logits[i] = float32(rng.NormFloat64() * 3)
		}
		work := make([]float32, n)
		for _, pos := range []struct{ name, prefix string }{{"string", `{"name": "ab`}, {"object", `{`}} {
			st, ok := g.AcceptString(g.Start(), pos.prefix)
			if !ok {
				b.Fatal("prefix rejected")
			}
			at := func() *constraint {
				c := newConstraint(g, &gv, tok, false)
				c.st, c.atHead = st, false
				return c
			}
			c := at()
			b.Run(v.name+"/mask/"+pos.name, func(b *testing.B) {
				loop(b, func() {
					copy(work, logits)
					c.mask(work)
				})
			})
			b.Run(v.name+"/mask-cold/"+pos.name, func(b *testing.B) {
				loop(b, func() {
					c := at()
					copy(work, logits)
					c.mask(work)
				})
			})
			b.Run(v.name+"/sample/"+pos.name, func(b *testing.B) {
				smp := newSampler(Sampling{Temperature: 0.8, TopK: 40, TopP: 0.95, Seed: 1}, 4096)
				loop(b, func() {
					copy(work, logits)
					c.sample(smp, work, 0)
				})
			})
			// with the token limit at the shortest completion: only tokens that
			// lead straight to the end fit, so every allowed token is checked
			b.Run(v.name+"/sample-at-limit/"+pos.name, func(b *testing.B) {
				smp := newSampler(Sampling{Temperature: 0.8, TopK: 40, TopP: 0.95, Seed: 1}, 4096)
				left := g.Remaining(st)
				loop(b, func() {
					copy(work, logits)
					c.sample(smp, work, left)
				})
			})
			// with a token limit far off: each pick also checks the answer can still end
			b.Run(v.name+"/sample-limited/"+pos.name, func(b *testing.B) {
				smp := newSampler(Sampling{Temperature: 0.8, TopK: 40, TopP: 0.95, Seed: 1}, 4096)
				loop(b, func() {
					copy(work, logits)
					c.sample(smp, work, 1000)
				})
			})
		}
		b.Run(v.name+"/unconstrained", func(b *testing.B) {
			smp := newSampler(Sampling{Temperature: 0.8, TopK: 40, TopP: 0.95, Seed: 1}, 4096)
			loop(b, func() {
				copy(work, logits)
				smp.sample(work)
			})
		})
	}
}
