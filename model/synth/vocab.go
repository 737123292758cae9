package synth

import (
	"fmt"
	"strings"

	"github.com/conveyor-llm/conveyor/gguf"
)

// vocabulary adds the tokenizer keys to w and returns the vocabulary's size.
func (c *Config) vocabulary(w *gguf.Writer) (int, error) {
	if c.VocabFrom != "" {
		return copyVocabulary(w, c.VocabFrom)
	}
	tokens, scores, types := madeUpVocabulary(c.VocabSize)
	for _, kv := range []struct {
		key string
		val any
	}{
		{"tokenizer.ggml.model", "llama"},
		{"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.scores", scores},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.bos_token_id", uint32(1)},
		{"tokenizer.ggml.eos_token_id", uint32(2)},
		{"tokenizer.ggml.unknown_token_id", uint32(0)},
		{"tokenizer.ggml.add_bos_token", true},
		{"tokenizer.ggml.add_eos_token", false},
	} {
		if err := w.AddKV(kv.key, kv.val); err != nil {
			return 0, err
		}
	}
	return len(tokens), nil
}

// copyVocabulary copies every tokenizer.* key of the file at path.
func copyVocabulary(w *gguf.Writer, path string) (int, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	model, ok := f.Lookup("tokenizer.ggml.model")
	if !ok {
		return 0, fmt.Errorf("synth: %s has no vocabulary (tokenizer.ggml.model)", path)
	}
	if name, err := model.Str(); err != nil || name != "llama" {
		return 0, fmt.Errorf("synth: %s: vocabulary type %q is not supported yet (llama)", path, name)
	}
	n := 0
	for _, kv := range f.KVs {
		if !strings.HasPrefix(kv.Key, "tokenizer.") {
			continue
		}
		if kv.Key == "tokenizer.ggml.tokens" {
			n = kv.ArrayLen()
		}
		if err := w.AddKV(kv.Key, kv); err != nil {
			return 0, err
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("synth: %s has no tokens", path)
	}
	return n, nil
}

// madeUpVocabulary is a SentencePiece-style vocabulary of n tokens: <unk>, <s>,
// </s>, the 256 byte tokens, then letters and made-up word pieces with falling
// scores, so any text tokenizes.
func madeUpVocabulary(n int) (tokens []string, scores []float32, types []int32) {
	add := func(tok string, score float32, typ int32) {
		tokens = append(tokens, tok)
		scores = append(scores, score)
		types = append(types, typ)
	}
	add("<unk>", 0, 2)
	add("<s>", 0, 3)
	add("</s>", 0, 3)
	for b := 0; b < 256; b++ {
		add(fmt.Sprintf("<0x%02X>", b), 0, 6)
	}
	seen := map[string]bool{}
	const letters = "etaoinshrdlucmfwypvbgkqjxz"
	var pieces []string
	pieces = append(pieces, "▁")
	for _, r := range letters + strings.ToUpper(letters) + "0123456789.,!?'\"-:;()" {
		pieces = append(pieces, string(r))
	}
	for _, a := range letters {
		pieces = append(pieces, "▁"+string(a))
	}
	for _, a := range letters {
		for _, b := range letters {
			pieces = append(pieces, string(a)+string(b), "▁"+string(a)+string(b))
		}
	}
	for _, a := range letters {
		for _, b := range letters {
			for _, c := range letters {
				pieces = append(pieces, "▁"+string(a)+string(b)+string(c), string(a)+string(b)+string(c))
			}
		}
	}
	score := float32(-1)
	for _, p := range pieces {
		if len(tokens) >= n {
			break
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		add(p, score, 1)
		score -= 0.01
	}
	for i := 0; len(tokens) < n; i++ {
		add(fmt.Sprintf("▁tok%d", i), score, 1)
		score -= 0.01
	}
	return tokens, scores, types
}
