package engine

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/internal/testdata"
	"github.com/conveyor-llm/conveyor/kernels"
)

// writeBertBase writes a random-weight bert of BERT-base's shape (bge-base,
// 110M parameters: 768 wide, 12 layers of 12 heads, FFN 3072, context 512,
// the bge vocabulary of ../shared/embed/bert-cls.gguf) with F16 matrices and
// F32 norms, biases, token types and positions, as llama.cpp's converter
// writes an F16 model (llama.cpp cannot add F16 position or token-type rows
// to its F32 activations).
func writeBertBase(tb testing.TB, path string) {
	tb.Helper()
	vocabFile, err := gguf.Open(testdata.Path(tb, "embed/bert-cls.gguf"))
	if err != nil {
		tb.Fatal(err)
	}
	defer vocabFile.Close()
	const dim, layers, heads, ffn, ctx, vocab = 768, 12, 12, 3072, 512, 30522
	w := gguf.NewWriter()
	for _, kv := range vocabFile.KVs {
		if strings.HasPrefix(kv.Key, "tokenizer.") {
			must(tb, w.AddKV(kv.Key, kv))
		}
	}
	for _, kv := range []struct {
		key string
		val any
	}{
		{"general.architecture", "bert"}, {"general.name", "bert-base shape, random weights"},
		{"bert.context_length", uint32(ctx)}, {"bert.embedding_length", uint32(dim)},
		{"bert.block_count", uint32(layers)}, {"bert.feed_forward_length", uint32(ffn)},
		{"bert.attention.head_count", uint32(heads)}, {"bert.attention.layer_norm_epsilon", float32(1e-12)},
		{"bert.attention.causal", false}, {"bert.pooling_type", uint32(2)},
	} {
		must(tb, w.AddKV(kv.key, kv.val))
	}
	seed := uint64(0)
	add := func(name string, rows, cols int, kind string) {
		seed++
		typ := gguf.TypeF16
		dims := []uint64{uint64(cols), uint64(rows)}
		if rows == 0 {
			typ, dims, rows = gguf.TypeF32, dims[:1], 1
		} else if kind == "f32" {
			typ, kind = gguf.TypeF32, ""
		}
		s := seed
		must(tb, w.AddTensorFunc(name, typ, dims, func(out io.Writer) error {
			rng := rand.New(rand.NewPCG(s, 7))
			format, err := kernels.FormatOf(typ)
			if err != nil {
				return err
			}
			vals, buf := make([]float32, cols), make([]byte, typ.RowBytes(cols))
			for r := 0; r < rows; r++ {
				for i := range vals {
					switch kind {
					case "norm":
						vals[i] = float32(1 + 0.1*rng.NormFloat64())
					case "bias":
						vals[i] = float32(0.02 * rng.NormFloat64())
					default:
						vals[i] = float32(rng.NormFloat64() / math.Sqrt(float64(cols)))
					}
				}
				format.Quantize(buf, vals)
				if _, err := out.Write(buf); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	add("token_embd.weight", vocab, dim, "")
	add("token_types.weight", 2, dim, "f32")
	add("position_embd.weight", ctx, dim, "f32")
	add("token_embd_norm.weight", 0, dim, "norm")
	add("token_embd_norm.bias", 0, dim, "bias")
	for l := range layers {
		p := fmt.Sprintf("blk.%d.", l)
		for _, n := range []string{"attn_q", "attn_k", "attn_v", "attn_output"} {
			add(p+n+".weight", dim, dim, "")
			add(p+n+".bias", 0, dim, "bias")
		}
		add(p+"attn_output_norm.weight", 0, dim, "norm")
		add(p+"attn_output_norm.bias", 0, dim, "bias")
		add(p+"ffn_up.weight", ffn, dim, "")
		add(p+"ffn_up.bias", 0, ffn, "bias")
		add(p+"ffn_down.weight", dim, ffn, "")
		add(p+"ffn_down.bias", 0, dim, "bias")
		add(p+"layer_output_norm.weight", 0, dim, "norm")
		add(p+"layer_output_norm.bias", 0, dim, "bias")
	}
	must(tb, w.WriteFile(path))
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkEmbedBertBase embeds a batch of 64 inputs of 128 tokens ([CLS],
// 126 random words, [SEP]) on a 110M-shaped bert and reports embeddings per
// second, and per second of the process's CPU time (a steadier measure on a
// shared machine; CONVEYOR_BENCH_BACKEND picks the backend, default cpu).
// CONVEYOR_BENCH_GGUF=PATH keeps the model at PATH (written only if missing),
// for measuring another engine on the same file
// (scripts/oracle-embed-bench.mjs); CONVEYOR_BENCH_INPUTS changes the batch
// (for profiling a shorter run).
//
//	go test ./engine -run '^$' -bench EmbedBertBase -benchtime 3x
func BenchmarkEmbedBertBase(b *testing.B) {
	path := os.Getenv("CONVEYOR_BENCH_GGUF")
	if path == "" {
		path = filepath.Join(b.TempDir(), "bert-base-f16.gguf")
	}
	if _, err := os.Stat(path); err != nil {
		writeBertBase(b, path)
	}
	count := 64
	if v := os.Getenv("CONVEYOR_BENCH_INPUTS"); v != "" {
		n, err := strconv.Atoi(v)
		must(b, err)
		count = n
	}
	backend := envOr("CONVEYOR_BENCH_BACKEND", "cpu")
	m, err := Load(path, Options{Backend: backend})
	must(b, err)
	defer m.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := make([][]int32, count)
	for i := range inputs {
		in := []int32{101}
		for len(in) < 127 {
			in = append(in, int32(1996+rng.IntN(28000)))
		}
		inputs[i] = append(in, 102)
	}
	ctx := context.Background()
	_, err = m.EmbedTokens(ctx, inputs[:1], EmbedOptions{}) // warm up: allocations, pipelines
	must(b, err)
	b.ResetTimer()
	start, cpu := time.Now(), processCPU()
	for range b.N {
		_, err := m.EmbedTokens(ctx, inputs, EmbedOptions{})
		must(b, err)
	}
	elapsed := time.Since(start).Seconds()
	b.ReportMetric(float64(count*b.N)/elapsed, "embeddings/s")
	b.ReportMetric(float64(count*128*b.N)/elapsed, "tokens/s")
	if used := (processCPU() - cpu).Seconds(); used > 0 {
		b.ReportMetric(float64(count*b.N)/used, "embeddings/cpu-s")
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
