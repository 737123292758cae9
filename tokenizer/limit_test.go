package tokenizer

import (
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// EncodeLimit gives Encode's ids for a text within its limit and
// ErrTooManyTokens for one a token over, for every kind of vocabulary, with
// special tokens, BOS and EOS counted.
func TestEncodeLimitIsEncodeWithinTheLimit(t *testing.T) {
	book := warAndPeace(t, 20_000)
	for _, name := range append([]string{"llama-spm"}, vectorVocabs...) {
		t.Run(name, func(t *testing.T) {
			rel := "tokenizer-tests/llamacpp/ggml-vocab-" + name + ".gguf"
			tok := loadGGUF(t, rel)
			texts := []string{"", "Hello", book, "<s>" + book[:500] + "</s><s>[CLS]<|endoftext|>" + book[500:900]}
			for _, c := range readVectors(t, rel) {
				texts = append(texts, c.text)
			}
			for i, text := range texts {
				for _, special := range []bool{false, true} {
					want := tok.Encode(text, special, special)
					got, err := tok.EncodeLimit(text, special, special, len(want))
					require.NoError(t, err, "text %d", i)
					require.Equal(t, want, got, "text %d", i)
					if len(want) == 0 {
						continue
					}
					_, err = tok.EncodeLimit(text, special, special, len(want)-1)
					require.ErrorIs(t, err, ErrTooManyTokens, "text %d: %d tokens, limit %d", i, len(want), len(want)-1)
				}
			}
		})
	}
	_, err := llama(t).EncodeLimit("x", false, false, -1)
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrTooManyTokens))
}

// requireEncodeLimitAgrees checks EncodeLimit against Encode's ids for s
// (with BOS and EOS as the vocabulary asks): the same at their count, an
// error one below.
func requireEncodeLimitAgrees(t *testing.T, tok *Tokenizer, s string, parseSpecial bool, ids []int32) {
	t.Helper()
	got, err := tok.EncodeLimit(s, true, parseSpecial, len(ids))
	if err != nil || !slices.Equal(got, ids) {
		t.Fatalf("EncodeLimit(%q, %d) = %v, %v; Encode gives %v", s, len(ids), got, err, ids)
	}
	if len(ids) > 0 {
		if _, err := tok.EncodeLimit(s, true, parseSpecial, len(ids)-1); !errors.Is(err, ErrTooManyTokens) {
			t.Fatalf("EncodeLimit(%q, %d) of %d tokens: %v", s, len(ids)-1, len(ids), err)
		}
	}
}

// A text far over the limit costs memory in proportion to the limit, not to
// its length: 15 MB of prose, or of special tokens, against a 4096-token
// limit (what a server's context check needs), for SPM and byte-level BPE.
// (Measured once: Encode allocates 42 MiB for the prose with llama-spm,
// 753 MiB for the special tokens, 1.8 GiB for them with falcon's regexp
// pre-tokenizer; EncodeLimit 20 to 700 KiB.)
func TestEncodeLimitMemoryIsBoundedByTheLimit(t *testing.T) {
	book := warAndPeace(t, 1<<30)
	huge := strings.Repeat(book, 15<<20/len(book)+1)[:15<<20]
	specials := strings.Repeat("<s>", 5<<20)
	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	const limit = 4096
	for _, name := range []string{"llama-spm", "llama-bpe", "falcon"} {
		tok := loadGGUF(t, "tokenizer-tests/llamacpp/ggml-vocab-"+name+".gguf")
		for what, text := range map[string]string{"prose": huge, "specials": specials} {
			var err error
			bounded := allocated(func() { _, err = tok.EncodeLimit(text, true, true, limit) })
			require.ErrorIs(t, err, ErrTooManyTokens)
			require.Less(t, bounded, uint64(1<<20), "%s, %s: EncodeLimit allocated %d bytes", name, what, bounded)
			if testing.Short() || what != "prose" || name == "falcon" {
				continue // the baseline is slow; two make the point
			}
			whole := allocated(func() { tok.Encode(text, true, true) })
			t.Logf("%s, 15 MB of %s: Encode allocates %.1f MiB, EncodeLimit(%d) %.1f KiB (%.0fx less)",
				name, what, float64(whole)/(1<<20), limit, float64(bounded)/(1<<10), float64(whole)/float64(bounded))
		}
	}
}
