package engine

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/grammar"
	"github.com/conveyor-llm/conveyor/internal/testdata"
	"github.com/conveyor-llm/conveyor/tokenizer"
)

// BenchmarkGrammar measures the JSON grammar's cost per token on the 32k
// (llama-spm) and 128k (Llama 3) vocabularies: "mask" is the full mask (the
// trie walk and -inf on the rejected logits) in a string, where most tokens
// pass, and after "{", where few do; "sample" is constraint.sample on random
// logits (the draw checked first, the mask only when it fails), against
// "unconstrained", the sampler alone.
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
			c := newConstraint(g, &gv, tok, false)
			c.atHead = false
			st, ok := g.AcceptString(g.Start(), pos.prefix)
			if !ok {
				b.Fatal("prefix rejected")
			}
			c.st = st
			b.Run(v.name+"/mask/"+pos.name, func(b *testing.B) {
				for b.Loop() {
					copy(work, logits)
					c.mask(work)
				}
			})
			b.Run(v.name+"/sample/"+pos.name, func(b *testing.B) {
				smp := newSampler(Sampling{Temperature: 0.8, TopK: 40, TopP: 0.95, Seed: 1}, 4096)
				for b.Loop() {
					copy(work, logits)
					c.sample(smp, work)
				}
			})
		}
		b.Run(v.name+"/unconstrained", func(b *testing.B) {
			smp := newSampler(Sampling{Temperature: 0.8, TopK: 40, TopP: 0.95, Seed: 1}, 4096)
			for b.Loop() {
				copy(work, logits)
				smp.sample(work)
			}
		})
	}
}
