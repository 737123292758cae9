package gguf

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

func openTestFile(t *testing.T, rel string) *File {
	t.Helper()
	f, err := Open(testdata.Path(t, rel))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, f.Close()) })
	return f
}

func lookupUint(t *testing.T, f *File, key string) uint64 {
	t.Helper()
	v, ok := f.Lookup(key)
	require.True(t, ok, key)
	n, err := v.Uint()
	require.NoError(t, err)
	return n
}

func TestOpenStories260K(t *testing.T) {
	tests := []struct {
		file       string
		weightType Type // of the 2-D weights whose rows are 64 long
	}{
		{"models/stories260K.gguf", TypeF32},
		{"models/stories260K-q8_0.gguf", TypeQ8_0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := openTestFile(t, tt.file)
			assert.Equal(t, uint32(3), f.Version)
			assert.Len(t, f.KVs, 23)
			assert.Len(t, f.Tensors, 48) // 3 + 5 layers × 9
			assert.Equal(t, uint64(32), f.Alignment)

			arch, ok := f.Lookup("general.architecture")
			require.True(t, ok)
			s, err := arch.Str()
			require.NoError(t, err)
			assert.Equal(t, "llama", s)
			assert.Equal(t, uint64(64), lookupUint(t, f, "llama.embedding_length"))
			assert.Equal(t, uint64(5), lookupUint(t, f, "llama.block_count"))
			assert.Equal(t, uint64(172), lookupUint(t, f, "llama.feed_forward_length"))
			assert.Equal(t, uint64(512), lookupUint(t, f, "llama.context_length"))
			eps, _ := f.Lookup("llama.attention.layer_norm_rms_epsilon")
			e, err := eps.Float()
			require.NoError(t, err)
			assert.InDelta(t, 1e-5, e, 1e-9)

			tokens, _ := f.Lookup("tokenizer.ggml.tokens")
			vocab, err := tokens.Strings()
			require.NoError(t, err)
			assert.Len(t, vocab, 512)
			assert.Equal(t, "<s>", vocab[1])

			embd, ok := f.Tensor("token_embd.weight")
			require.True(t, ok)
			assert.Equal(t, []uint64{64, 512}, embd.Dims)
			assert.Equal(t, tt.weightType, embd.Type)
			down, _ := f.Tensor("blk.4.ffn_down.weight")
			assert.Equal(t, []uint64{172, 64}, down.Dims)
			assert.Equal(t, TypeF32, down.Type)
			norm, _ := f.Tensor("blk.0.attn_norm.weight")
			assert.Equal(t, []uint64{64}, norm.Dims)
			assert.Equal(t, TypeF32, norm.Type)

			for _, ti := range f.Tensors {
				data := f.TensorData(ti)
				assert.Len(t, data, int(ti.Bytes()), ti.Name)
			}
			// A norm's weights are ordinary float32 numbers, near 1.
			w := math.Float32frombits(binary.LittleEndian.Uint32(f.TensorData(norm)))
			assert.False(t, math.IsNaN(float64(w)))
			assert.Less(t, math.Abs(float64(w)), 100.0)
		})
	}
}

func TestOpenEveryVocabFile(t *testing.T) {
	dir := filepath.Dir(testdata.Path(t, "tokenizer-tests/llamacpp/ggml-vocab-llama-spm.gguf"))
	paths, err := filepath.Glob(filepath.Join(dir, "ggml-vocab-*.gguf"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			f, err := Open(p)
			require.NoError(t, err)
			defer f.Close()
			assert.Empty(t, f.Tensors)
			tokens, ok := f.Lookup("tokenizer.ggml.tokens")
			require.True(t, ok)
			vocab, err := tokens.Strings()
			require.NoError(t, err)
			assert.Greater(t, len(vocab), 1000)
			model, _ := f.Lookup("tokenizer.ggml.model")
			_, err = model.Str()
			assert.NoError(t, err)
		})
	}
}

func TestOpenErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.gguf")
	require.NoError(t, os.WriteFile(short, []byte("GGUF"), 0o644))
	bad := filepath.Join(dir, "v1.gguf")
	require.NoError(t, os.WriteFile(bad, newFile(1, 0, 0).bytes(), 0o644))
	tests := []struct {
		path, want string
	}{
		{filepath.Join(dir, "missing.gguf"), "no such file"},
		{short, "gguf: " + short + ": file of 4 bytes is too short"},
		{bad, "gguf: " + bad + ": header: version 1 is not supported"},
	}
	for _, tt := range tests {
		_, err := Open(tt.path)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.want)
		assert.True(t, strings.HasPrefix(err.Error(), "gguf: "))
	}
}

func TestParseRejectsTruncatedStories260K(t *testing.T) {
	data, err := os.ReadFile(testdata.Path(t, "models/stories260K-q8_0.gguf"))
	require.NoError(t, err)
	for n := 0; n < len(data); n += 997 {
		_, err := Parse(data[:n])
		require.Error(t, err, "truncated to %d of %d bytes", n, len(data))
		assert.Regexp(t, truncationError, err.Error())
	}
}

func TestOpenDoesNotCopyTensorData(t *testing.T) {
	path := testdata.Path(t, "models/stories260K.gguf")
	st, err := os.Stat(path)
	require.NoError(t, err)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f, err := Open(path)
	require.NoError(t, err)
	runtime.ReadMemStats(&after)
	defer f.Close()
	allocated := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, allocated, uint64(st.Size()/10), "Open allocated %d bytes for a %d-byte file", allocated, st.Size())
}

func TestTensorDataRefusesTensorsOutsideTheFile(t *testing.T) {
	f, err := Parse(tinyFile())
	require.NoError(t, err)
	assert.Nil(t, f.TensorData(TensorInfo{Name: "x", Dims: []uint64{1 << 20}, Type: TypeF32}))
	assert.Nil(t, f.TensorData(TensorInfo{Name: "x", Dims: []uint64{1}, Type: TypeF32, Offset: math.MaxUint64}))
	assert.Nil(t, f.TensorData(TensorInfo{Name: "x", Dims: []uint64{1}, Type: 99}))
}
