package tokenizer

import "fmt"

// TokenType is a token's kind, numbered as GGUF's tokenizer.ggml.token_type.
type TokenType int32

// Token types.
const (
	TypeNormal      TokenType = 1
	TypeUnknown     TokenType = 2
	TypeControl     TokenType = 3
	TypeUserDefined TokenType = 4
	TypeUnused      TokenType = 5
	TypeByte        TokenType = 6
)

func (t TokenType) String() string {
	switch t {
	case TypeNormal:
		return "NORMAL"
	case TypeUnknown:
		return "UNKNOWN"
	case TypeControl:
		return "CONTROL"
	case TypeUserDefined:
		return "USER_DEFINED"
	case TypeUnused:
		return "UNUSED"
	case TypeByte:
		return "BYTE"
	}
	return fmt.Sprintf("TokenType(%d)", int32(t))
}

// Vocab is a tokenizer's vocabulary as a GGUF file describes it. Token ids are
// positions in Tokens; Scores and Types run parallel to it.
type Vocab struct {
	Model  string // tokenizer.ggml.model: "llama" (SentencePiece), "gpt2" (byte-level BPE) or "bert" (WordPiece)
	Pre    string // tokenizer.ggml.pre: the BPE pre-tokenizer ("llama-bpe", "qwen2", ...); "" when absent
	Tokens []string
	Merges []string // BPE merges "A B", highest priority first
	Scores []float32
	Types  []TokenType

	// Special token ids, -1 when absent. For WordPiece, BOS is [CLS] and EOS
	// is [SEP].
	BOS, EOS, UNK, EOT, PAD int32

	AddBOS, AddEOS bool
	AddSpacePrefix bool // SentencePiece: a space is put before the text
}

// supportedModels lists the values of Vocab.Model that New accepts.
var supportedModels = []string{"llama", "gpt2", "bert"}

// check reports the first inconsistency in v: arrays of different lengths or
// special ids outside the vocabulary.
func (v *Vocab) check() error {
	n := len(v.Tokens)
	if n == 0 {
		return fmt.Errorf("tokenizer: empty vocabulary")
	}
	if v.Scores != nil && len(v.Scores) != n {
		return fmt.Errorf("tokenizer: %d scores for %d tokens", len(v.Scores), n)
	}
	if v.Types != nil && len(v.Types) != n {
		return fmt.Errorf("tokenizer: %d token types for %d tokens", len(v.Types), n)
	}
	for _, s := range []struct {
		name string
		id   int32
	}{{"bos", v.BOS}, {"eos", v.EOS}, {"unk", v.UNK}, {"eot", v.EOT}, {"pad", v.PAD}} {
		if s.id < -1 || s.id >= int32(n) {
			return fmt.Errorf("tokenizer: %s token id %d outside the vocabulary (%d tokens)", s.name, s.id, n)
		}
	}
	return nil
}

func (v *Vocab) typeOf(id int32) TokenType {
	if v.Types == nil {
		return TypeNormal
	}
	return v.Types[id]
}

func (v *Vocab) scoreOf(id int32) float32 {
	if v.Scores == nil {
		return 0
	}
	return v.Scores[id]
}
