package engine

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/internal/testdata"
	"github.com/conveyor-llm/conveyor/model"
)

// llama.cpp's greedy ids and top-5 logits after the prompt on the llama3
// parity model with keys and values of different types, from node-llama-cpp
// 3.22.1 with experimentalKvCacheKeyType and ValueType set apart and flash
// attention on (the oracle's logits_kv2.mjs, KVTYPE=K,V, prompt "Once upon a
// time there was a little girl", -n 40).
var llamaCppMixedKV = []struct {
	k, v string
	ids  []int32
	top5 []TokenLogit
}{
	{"q8_0", "f16",
		[]int32{278, 80, 280, 289, 58, 324, 352, 352, 352, 352, 352, 352, 352, 352, 352, 352, 278, 199, 504, 504, 504, 504, 504, 504, 504, 508, 508, 508, 508, 508, 508, 239, 101, 117, 117, 117, 117, 117, 117, 176},
		[]TokenLogit{{278, 8.332306}, {491, 7.412912}, {180, 7.127994}, {112, 6.494096}, {64, 6.414663}}},
	{"f16", "q8_0",
		[]int32{278, 80, 280, 289, 58, 324, 352, 352, 352, 352, 352, 352, 352, 352, 352, 352, 278, 199, 504, 504, 504, 504, 504, 504, 504, 508, 508, 508, 508, 508, 508, 239, 101, 117, 117, 117, 117, 117, 117, 176},
		[]TokenLogit{{278, 8.367738}, {491, 7.505682}, {180, 7.058533}, {311, 6.465810}, {64, 6.424727}}},
	{"f16", "q4_0",
		[]int32{278, 80, 80, 80, 80, 80, 80, 380, 380, 380, 380, 380, 380, 380, 380, 380, 380, 380, 344, 344, 344, 344, 344, 344, 344, 344, 344, 344, 344, 344, 344, 344, 344, 201, 201, 201, 201, 201, 201, 201},
		[]TokenLogit{{278, 8.186121}, {491, 7.754203}, {112, 7.003483}, {180, 6.622561}, {295, 6.380911}}},
	{"q4_0", "f16",
		[]int32{278, 80, 280, 278, 278, 278, 278, 46, 422, 422, 422, 112, 112, 112, 112, 421, 331, 151, 504, 504, 504, 504, 504, 504, 504, 504, 504, 504, 504, 504, 504, 504, 504, 504, 504, 504, 504, 504, 504, 504},
		[]TokenLogit{{278, 8.357244}, {491, 7.636643}, {311, 6.967591}, {180, 6.734191}, {112, 6.469410}}},
	{"q8_0", "q4_0",
		[]int32{278, 80, 80, 80, 80, 80, 80, 380, 380, 380, 380, 380, 380, 380, 380, 380, 380, 380, 344, 344, 344, 344, 344, 344, 344, 344, 344, 344, 344, 344, 344, 344, 344, 201, 201, 201, 201, 201, 201, 201},
		[]TokenLogit{{278, 8.248949}, {491, 7.878979}, {112, 6.984102}, {180, 6.702468}, {295, 6.365418}}},
}

// With -ctk and -ctv apart the CPU backend computes what llama.cpp does
// (each half of its flash attention as its type has it, the quantized
// halves stored rotated): the same 40 greedy ids, and the top-5 logits after
// the prompt within 1.5e-2. Measured: 1.1e-3 (q8_0/q4_0) to 9.9e-3
// (q8_0/f16). Keys in Q8_0 magnify k's last-bit differences from
// llama.cpp's (a value on a rounding boundary moves a whole step, 1/127 of
// its block's largest): with rotation off on both sides (llama.cpp's
// LLAMA_ATTN_ROT_DISABLE=1) q8_0/q8_0 itself is 9.6e-3 away, and f16/q8_0
// 1.2e-3. Vulkan refuses such a session before allocating anything, naming
// both types.
func TestMixedKVCacheMatchesLlamaCpp(t *testing.T) {
	for _, b := range testBackends() {
		t.Run(b, func(t *testing.T) {
			m, err := Load(testdata.Path(t, "arch/llama3.gguf"), Options{Backend: b})
			require.NoError(t, err)
			defer m.Close()
			for _, want := range llamaCppMixedKV {
				opts := SessionOptions{Context: 256, KeyCacheType: want.k, ValueCacheType: want.v}
				s, err := m.NewSession(opts)
				if b == "vulkan" {
					require.ErrorContains(t, err, "not "+want.k+" keys with "+want.v+" values")
					continue
				}
				require.NoError(t, err)
				res, err := s.Generate(t.Context(), Request{Prompt: "Once upon a time there was a little girl",
					MaxTokens: len(want.ids), Sampling: DefaultSampling(), TopLogits: len(want.top5)}, func(Token) error { return nil })
				s.Close()
				require.NoError(t, err)
				name := want.k + "/" + want.v
				require.Equal(t, want.ids, res.GeneratedIDs, name)
				worst := 0.0
				for i, w := range want.top5 {
					require.Equal(t, w.ID, res.TopLogits[i].ID, "%s: top-5 rank %d", name, i)
					require.InDelta(t, w.Logit, res.TopLogits[i].Logit, 1.5e-2, "%s: top-5 rank %d", name, i)
					worst = max(worst, float64(abs32(w.Logit-res.TopLogits[i].Logit)))
				}
				t.Logf("%s: top-5 logits within %.2g of llama.cpp's", name, worst)
			}
		})
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// teacherForcedLogitsOpts is teacherForcedLogits with the session's cache
// types as opts has them.
func teacherForcedLogitsOpts(t *testing.T, m *Model, opts SessionOptions, tokens []int32) [][]float32 {
	t.Helper()
	opts.Context = len(tokens)
	s, err := m.NewSession(opts)
	require.NoError(t, err)
	defer s.Close()
	var all [][]float32
	for i, tok := range tokens {
		out, err := s.Forward(model.Batch{Tokens: []int32{tok}, Pos: []int32{int32(i)}, Seq: []int32{0}, Outputs: []int32{0}})
		require.NoError(t, err)
		all = append(all, append([]float32(nil), out[0]...))
	}
	return all
}

// stories260K (heads of 8: a quantized block spans its 4 KV heads, which
// llama.cpp refuses) with keys and values of different types, over 120
// positions of llama.cpp's own story, teacher-forced: the logits' relative
// distance to the F16 cache's has a median under 1e-3 where the other half
// is F32 (measured 2e-4: F32 only removes F16's rounding), under 3e-2 where
// it is Q8_0 (TestStories260KQuantizedKVCache's bound for both halves in
// Q8_0; measured 1e-3 to 1.3e-2, the keys' rounding costing the most) and
// under 0.4 where it is Q4_0 (measured up to 0.23); the greedy token agrees
// at 99%, 95% and 50% of positions (measured 100%, 99% and 54% or more). The types apart are the halves' own: q8_0 keys with
// q8_0 values give the bits of CacheType "q8_0".
func TestStories260KMixedKVCache(t *testing.T) {
	want := readExpected(t, "llamacpp-once-upon-a-time.txt")
	tokens := append(append([]int32(nil), want.PromptIDs...), want.GeneratedIDs...)
	tokens = tokens[:min(len(tokens), 120)]
	m, err := Load(testdata.Path(t, "models/stories260K.gguf"), Options{Backend: "cpu"})
	require.NoError(t, err)
	defer m.Close()
	ref := teacherForcedLogitsOpts(t, m, SessionOptions{}, tokens)
	for _, tc := range []struct {
		k, v   string
		median float64
		agree  float64
	}{
		{"f32", "f16", 1e-3, 0.99}, {"f16", "f32", 1e-3, 0.99},
		{"q8_0", "f16", 3e-2, 0.95}, {"f16", "q8_0", 3e-2, 0.95}, {"q8_0", "f32", 3e-2, 0.95},
		{"q4_0", "f16", 0.4, 0.5}, {"f16", "q4_0", 0.4, 0.5}, {"q8_0", "q4_0", 0.4, 0.5},
	} {
		got := teacherForcedLogitsOpts(t, m, SessionOptions{KeyCacheType: tc.k, ValueCacheType: tc.v}, tokens)
		var dists []float64
		same := 0
		for i := range got {
			dists = append(dists, logitsRelErr(got[i], ref[i]))
			if argmax(got[i]) == argmax(ref[i]) {
				same++
			}
		}
		sort.Float64s(dists)
		median, frac := dists[len(dists)/2], float64(same)/float64(len(got))
		name := tc.k + "/" + tc.v
		t.Logf("%s: relative distance to f16: median %.3g, largest %.3g; greedy agreement %.1f%%", name, median, dists[len(dists)-1], 100*frac)
		require.Less(t, median, tc.median, name)
		require.GreaterOrEqual(t, frac, tc.agree, name)
	}
	same := teacherForcedLogitsOpts(t, m, SessionOptions{CacheType: "f16", KeyCacheType: "q8_0", ValueCacheType: "q8_0"}, tokens)
	both := teacherForcedLogitsOpts(t, m, SessionOptions{CacheType: "q8_0"}, tokens)
	require.Equal(t, both, same, "q8_0 keys and values apart against CacheType q8_0")
}

// The types apart default to CacheType: the one not set is CacheType's,
// and the cache's bytes (the memory estimate's) are each half's.
func TestKeyValueCacheTypesDefaultToCacheType(t *testing.T) {
	m, err := Load(testdata.Path(t, "models/stories260K.gguf"), Options{Backend: "cpu"})
	require.NoError(t, err)
	defer m.Close()
	h := m.arch.Hyper()
	for _, tc := range []struct {
		opts SessionOptions
		want string
	}{
		{SessionOptions{}, "f16"},
		{SessionOptions{CacheType: "q8_0"}, "q8_0"},
		{SessionOptions{KeyCacheType: "q8_0"}, "keys q8_0, values f16"},
		{SessionOptions{CacheType: "q4_0", ValueCacheType: "f32"}, "keys q4_0, values f32"},
		{SessionOptions{CacheType: "f32", KeyCacheType: "f16", ValueCacheType: "f16"}, "f16"},
	} {
		types, err := parseCacheTypes(tc.opts, h)
		require.NoError(t, err)
		require.Equal(t, tc.want, types.String(), "%+v", tc.opts)
	}
	_, err = parseCacheTypes(SessionOptions{KeyCacheType: "q8_0", ValueCacheType: "q5_1"}, h)
	require.ErrorContains(t, err, `KV cache type "q5_1" is not supported`)
	require.ErrorContains(t, err, "the values' type")
}

// The memory estimate counts each half of the cache at its own type: a
// layer's position is KVDim keys and KVDim values, so q8_0 keys with f16
// values are the mean of the all-q8_0 and all-f16 caches, and the estimate
// names both types.
func TestFitCountsKeyAndValueTypes(t *testing.T) {
	p := testdata.Path(t, "arch/llama3.gguf")
	f, err := gguf.Open(p)
	require.NoError(t, err)
	defer f.Close()
	kv := map[string]int64{}
	for _, tc := range []struct {
		name string
		opts SessionOptions
		want string
	}{
		{"f16", SessionOptions{CacheType: "f16"}, "f16"},
		{"q8_0", SessionOptions{CacheType: "q8_0"}, "q8_0"},
		{"mixed", SessionOptions{KeyCacheType: "q8_0", ValueCacheType: "f16"}, "keys q8_0, values f16"},
	} {
		tc.opts.Context = 512
		fit, err := EstimateFit(f, Options{Backend: "cpu"}, tc.opts)
		require.NoError(t, err)
		require.Equal(t, tc.want, fit.CacheType)
		kv[tc.name] = fit.KV
	}
	require.Equal(t, (kv["f16"]+kv["q8_0"])/2, kv["mixed"])
	require.Less(t, kv["mixed"], kv["f16"])
}
