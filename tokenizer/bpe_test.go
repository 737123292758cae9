package tokenizer

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestByteLevelAlphabet(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	enc := byteEncode(string(all))
	raw, ok := byteDecode(enc)
	require.True(t, ok)
	require.Equal(t, all, raw)
	require.Equal(t, "Ġ", byteEncode(" "))
	require.Equal(t, "Ċ", byteEncode("\n"))
	require.Equal(t, "hello", byteEncode("hello"))
	_, ok = byteDecode("<|endoftext|>€")
	require.False(t, ok, "€ is outside the byte-level alphabet")
}
