package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// llama.cpp reads what we write and computes what we compute: a model we
// synthesize (the 110M shape's head size and Llama 2 vocabulary, smaller:
// dim 256, 2 layers of 4 heads of 64, FFN 768) and quantize gives, after a
// 14-token prompt, the top-10 logits llama.cpp's CPU build gave for the same
// files (node-llama-cpp 3.22.1 on an AVX-512/AMX machine, through
// scripts/llamacpp-compare.sh's oracle). The quantized files agree to the
// last bit: our attention, SwiGLU, RoPE and K-quant dots compute as its flash
// attention, vectorized expf, fused rotation and AMX kernels do. The F32 file
// is within 1e-3 (llama.cpp multiplies F32 weights with llamafile's sgemm, in
// another order); issue 5 asks for 1e-2.
func TestQuantizedSynthMatchesLlamaCpp(t *testing.T) {
	dir := t.TempDir()
	f32 := filepath.Join(dir, "F32.gguf")
	code, _, errOut := conveyor("synth", "--dim", "256", "--layers", "2", "--heads", "4", "--ffn", "768",
		"--vocab-from", testdata.Path(t, "tokenizer-tests/llamacpp/ggml-vocab-llama-spm.gguf"), "--type", "f32", "-o", f32)
	require.Equal(t, 0, code, errOut)
	data, err := os.ReadFile(f32)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	require.Equal(t, "b89c21f241b8731f46e966de2b65640852ede877f17aff46dc8650438bb71d7f", hex.EncodeToString(sum[:]),
		"conveyor synth no longer writes the model the llama.cpp logits below were computed for: regenerate them")

	type pair struct {
		id    int32
		logit float64
	}
	for _, c := range []struct {
		typ  string
		tol  float64
		want []pair
	}{
		{"Q4_K_M", 1e-6, []pair{{31379, 3.873415946960449}, {4145, 3.590785026550293}, {580, 3.543489933013916}, {27803, 3.483661413192749}, {14989, 3.436556816101074}, {19543, 3.42781138420105}, {23620, 3.355745315551758}, {954, 3.3193776607513428}, {12084, 3.262860059738159}, {30686, 3.2516448497772217}}},
		{"Q5_K_M", 1e-6, []pair{{31379, 3.695427656173706}, {26421, 3.6602237224578857}, {23620, 3.5999157428741455}, {10994, 3.4822797775268555}, {27803, 3.467453718185425}, {30686, 3.4627416133880615}, {4145, 3.362574815750122}, {27922, 3.35707688331604}, {15126, 3.3078246116638184}, {15917, 3.307307481765747}}},
		{"Q6_K", 1e-6, []pair{{31379, 3.8198258876800537}, {10994, 3.684854030609131}, {19543, 3.5738561153411865}, {23620, 3.515012264251709}, {15126, 3.460763692855835}, {954, 3.451756238937378}, {27803, 3.439856767654419}, {30686, 3.3533928394317627}, {4145, 3.3267769813537598}, {27922, 3.3046112060546875}}},
		{"Q8_0", 1e-6, []pair{{31379, 3.921773672103882}, {27803, 3.544698715209961}, {19543, 3.543146848678589}, {10994, 3.5090508460998535}, {23620, 3.432471513748169}, {21201, 3.3864986896514893}, {15126, 3.385911703109741}, {30686, 3.3830366134643555}, {580, 3.3543968200683594}, {27922, 3.3311331272125244}}},
		{"F32", 1e-3, []pair{{31379, 3.927295684814453}, {27803, 3.5731942653656006}, {19543, 3.526916027069092}, {10994, 3.515970230102539}, {23620, 3.447361469268799}, {30686, 3.3917675018310547}, {21201, 3.3596224784851074}, {15126, 3.3586738109588623}, {27922, 3.333606719970703}, {26421, 3.319094181060791}}},
	} {
		t.Run(c.typ, func(t *testing.T) {
			model := f32
			if c.typ != "F32" {
				model = filepath.Join(dir, c.typ+".gguf")
				code, _, errOut := conveyor("quantize", f32, model, c.typ)
				require.Equal(t, 0, code, errOut)
			}
			code, out, errOut := conveyor("run", "-m", model, "-p", "Once upon a time, there was a little girl named Lily",
				"-n", "1", "--temp", "0", "--backend", "cpu", "--json", "--top-logits", "10")
			require.Equal(t, 0, code, errOut)
			var res struct {
				PromptIDs []int32      `json:"prompt_ids"`
				TopLogits [][2]float64 `json:"top_logits"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &res))
			require.Equal(t, []int32{1, 9038, 2501, 263, 931, 29892, 727, 471, 263, 2217, 7826, 4257, 365, 2354}, res.PromptIDs)
			for i, w := range c.want {
				require.Equal(t, w.id, int32(res.TopLogits[i][0]), "rank %d", i)
				require.InDelta(t, w.logit, res.TopLogits[i][1], c.tol, "rank %d", i)
			}
		})
	}
}
