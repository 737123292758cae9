package tokenizer

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/gguf"
)

// GGUF metadata keys of the tokenizer.
const (
	keyModel          = "tokenizer.ggml.model"
	keyPre            = "tokenizer.ggml.pre"
	keyMerges         = "tokenizer.ggml.merges"
	keyCLS            = "tokenizer.ggml.cls_token_id"
	keySEP            = "tokenizer.ggml.seperator_token_id" // sic, as llama.cpp writes it
	keyTokens         = "tokenizer.ggml.tokens"
	keyScores         = "tokenizer.ggml.scores"
	keyTypes          = "tokenizer.ggml.token_type"
	keyBOS            = "tokenizer.ggml.bos_token_id"
	keyEOS            = "tokenizer.ggml.eos_token_id"
	keyUNK            = "tokenizer.ggml.unknown_token_id"
	keyEOT            = "tokenizer.ggml.eot_token_id"
	keyPAD            = "tokenizer.ggml.padding_token_id"
	keyAddBOS         = "tokenizer.ggml.add_bos_token"
	keyAddEOS         = "tokenizer.ggml.add_eos_token"
	keyAddSpacePrefix = "tokenizer.ggml.add_space_prefix"
)

// FromGGUF builds the tokenizer described by a GGUF file's metadata.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	v, err := VocabFromGGUF(f)
	if err != nil {
		return nil, err
	}
	return New(v)
}

// VocabFromGGUF reads the tokenizer.ggml.* keys. Where a key is absent it
// takes llama.cpp's default for the model: for "llama", BOS 1, EOS 2, UNK 0,
// add_bos true, add_eos false, add_space_prefix true; for "bert", BOS is the
// cls_token_id (else 101), EOS the seperator_token_id (else 102), UNK 100,
// and both are added; for "gpt2" nothing is added unless the keys say so;
// scores 0 and type NORMAL when those arrays are missing. The vocabulary is copied, so f may be
// closed afterwards.
func VocabFromGGUF(f *gguf.File) (*Vocab, error) {
	v := &Vocab{BOS: -1, EOS: -1, UNK: -1, EOT: -1, PAD: -1}
	val, ok := f.Lookup(keyModel)
	if !ok {
		return nil, fmt.Errorf("tokenizer: no %s key", keyModel)
	}
	var err error
	if v.Model, err = val.Str(); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	switch v.Model {
	case "llama":
		v.BOS, v.EOS, v.UNK = 1, 2, 0
		v.AddBOS, v.AddSpacePrefix = true, true
	case "bert":
		v.BOS, v.EOS, v.UNK, v.PAD = 101, 102, 100, 0
		v.AddBOS, v.AddEOS = true, true
	}
	if val, ok := f.Lookup(keyPre); ok {
		if v.Pre, err = val.Str(); err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
	}

	val, ok = f.Lookup(keyTokens)
	if !ok {
		return nil, fmt.Errorf("tokenizer: no %s key", keyTokens)
	}
	tokens, err := val.Strings()
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	v.Tokens = append([]string(nil), tokens...)
	n := len(v.Tokens)
	if val, ok := f.Lookup(keyMerges); ok {
		merges, err := val.Strings()
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		v.Merges = append([]string(nil), merges...)
	}

	if val, ok := f.Lookup(keyScores); ok {
		scores, err := val.Float32s()
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		if len(scores) != n {
			return nil, fmt.Errorf("tokenizer: %s has %d entries for %d tokens", keyScores, len(scores), n)
		}
		v.Scores = append([]float32(nil), scores...)
	}
	if val, ok := f.Lookup(keyTypes); ok {
		types, err := val.Int32s()
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		if len(types) != n {
			return nil, fmt.Errorf("tokenizer: %s has %d entries for %d tokens", keyTypes, len(types), n)
		}
		v.Types = make([]TokenType, n)
		for i, t := range types {
			v.Types[i] = TokenType(t)
		}
	}

	for _, s := range []struct {
		key string
		id  *int32
	}{{keyBOS, &v.BOS}, {keyEOS, &v.EOS}, {keyCLS, &v.BOS}, {keySEP, &v.EOS}, {keyUNK, &v.UNK}, {keyEOT, &v.EOT}, {keyPAD, &v.PAD}} {
		val, ok := f.Lookup(s.key)
		if !ok {
			continue
		}
		id, err := val.Uint()
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		if id >= uint64(n) {
			return nil, fmt.Errorf("tokenizer: %s = %d is outside the vocabulary (%d tokens)", s.key, id, n)
		}
		*s.id = int32(id)
	}
	if v.Model == "gpt2" && (v.Pre == "llama-bpe" || v.Pre == "llama3" || v.Pre == "llama-v3") {
		v.AddBOS = true // llama.cpp's default for Llama 3 when the key is absent
	}
	for _, s := range []struct {
		key string
		b   *bool
	}{{keyAddBOS, &v.AddBOS}, {keyAddEOS, &v.AddEOS}, {keyAddSpacePrefix, &v.AddSpacePrefix}} {
		val, ok := f.Lookup(s.key)
		if !ok {
			continue
		}
		if *s.b, err = val.Bool(); err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
	}
	harmonyTypes(v) // gpt-oss's special tokens, as llama.cpp types them
	return v, nil
}
