package tokenizer

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/gguf"
)

// GGUF metadata value types (the file format's numbering).
const (
	ggufUint32  = 4
	ggufInt32   = 5
	ggufFloat32 = 6
	ggufBool    = 7
	ggufString  = 8
	ggufArray   = 9
)

// ggufKV is one metadata pair for writeGGUF: value is a string, uint32,
// bool, []string, []float32 or []int32.
type ggufKV struct {
	key   string
	value any
}

// writeGGUF encodes a GGUF v3 file with metadata only.
func writeGGUF(kvs []ggufKV) []byte {
	var b bytes.Buffer
	put := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	str := func(s string) { put(uint64(len(s))); b.WriteString(s) }
	b.WriteString("GGUF")
	put(uint32(3))
	put(uint64(0))
	put(uint64(len(kvs)))
	for _, kv := range kvs {
		str(kv.key)
		switch v := kv.value.(type) {
		case string:
			put(uint32(ggufString))
			str(v)
		case uint32:
			put(uint32(ggufUint32))
			put(v)
		case bool:
			put(uint32(ggufBool))
			put(v)
		case []string:
			put(uint32(ggufArray))
			put(uint32(ggufString))
			put(uint64(len(v)))
			for _, s := range v {
				str(s)
			}
		case []float32:
			put(uint32(ggufArray))
			put(uint32(ggufFloat32))
			put(uint64(len(v)))
			for _, f := range v {
				put(math.Float32bits(f))
			}
		case []int32:
			put(uint32(ggufArray))
			put(uint32(ggufInt32))
			put(uint64(len(v)))
			put(v)
		default:
			panic("writeGGUF: unsupported value")
		}
	}
	return b.Bytes()
}

func parseGGUF(t *testing.T, kvs []ggufKV) *gguf.File {
	t.Helper()
	f, err := gguf.Parse(writeGGUF(kvs))
	require.NoError(t, err)
	return f
}

var fourTokens = []ggufKV{
	{keyModel, "llama"},
	{keyTokens, []string{"<unk>", "<s>", "</s>", "▁a"}},
	{keyScores, []float32{0, 0, 0, -1}},
	{keyTypes, []int32{2, 3, 3, 1}},
}

func TestVocabFromGGUFDefaultsForLlama(t *testing.T) {
	v, err := VocabFromGGUF(parseGGUF(t, fourTokens))
	require.NoError(t, err)
	require.Equal(t, &Vocab{
		Model:  "llama",
		Tokens: []string{"<unk>", "<s>", "</s>", "▁a"},
		Scores: []float32{0, 0, 0, -1},
		Types:  []TokenType{TypeUnknown, TypeControl, TypeControl, TypeNormal},
		BOS:    1, EOS: 2, UNK: 0, EOT: -1, PAD: -1,
		AddBOS: true, AddEOS: false, AddSpacePrefix: true,
	}, v)
}

func TestVocabFromGGUFReadsKeys(t *testing.T) {
	kvs := append(append([]ggufKV{}, fourTokens...),
		ggufKV{keyBOS, uint32(3)}, ggufKV{keyEOS, uint32(0)}, ggufKV{keyUNK, uint32(2)},
		ggufKV{keyEOT, uint32(1)}, ggufKV{keyPAD, uint32(0)},
		ggufKV{keyAddBOS, false}, ggufKV{keyAddEOS, true}, ggufKV{keyAddSpacePrefix, false})
	tok, err := FromGGUF(parseGGUF(t, kvs))
	require.NoError(t, err)
	v := tok.Vocab()
	require.Equal(t, []int32{3, 0, 2, 1, 0}, []int32{v.BOS, v.EOS, v.UNK, v.EOT, v.PAD})
	require.Equal(t, []bool{false, true, false}, []bool{v.AddBOS, v.AddEOS, v.AddSpacePrefix})
}

func TestVocabFromGGUFErrors(t *testing.T) {
	with := func(extra ...ggufKV) []ggufKV {
		out := []ggufKV{}
		for _, kv := range fourTokens {
			replaced := false
			for _, e := range extra {
				if e.key == kv.key {
					replaced = true
				}
			}
			if !replaced {
				out = append(out, kv)
			}
		}
		for _, e := range extra {
			if e.value != nil {
				out = append(out, e)
			}
		}
		return out
	}
	for _, c := range []struct {
		name string
		kvs  []ggufKV
		want []string
	}{
		{"special id outside the vocabulary", with(ggufKV{keyEOS, uint32(4)}), []string{keyEOS, "4"}},
		{"scores of another length", with(ggufKV{keyScores, []float32{0, 0, 0}}), []string{keyScores, "3", "4 tokens"}},
		{"types of another length", with(ggufKV{keyTypes, []int32{1, 1, 1, 1, 1}}), []string{keyTypes, "5"}},
		{"no model", with(ggufKV{key: keyModel}), []string{keyModel}},
		{"no tokens", with(ggufKV{key: keyTokens}), []string{keyTokens}},
		{"model of the wrong type", with(ggufKV{keyModel, uint32(1)}), []string{keyModel}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := VocabFromGGUF(parseGGUF(t, c.kvs))
			require.Error(t, err)
			for _, s := range c.want {
				require.Contains(t, err.Error(), s)
			}
		})
	}

	_, err := FromGGUF(parseGGUF(t, with(ggufKV{keyModel, "rwkv"})))
	require.ErrorContains(t, err, `unsupported model "rwkv"`)
}
