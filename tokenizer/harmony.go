package tokenizer

// gpt-oss's Harmony chat format marks its messages with special tokens that
// its GGUF files type CONTROL. llama.cpp special-cases them by name, and so
// do we, so that prompts, rendered text and the end of generation agree:
//
//   - <|channel|>, <|message|>, <|start|> and <|constrain|> become
//     USER_DEFINED: rendered in text and matched in prompt text;
//   - when <|return|> and <|call|> exist they end generation, and <|end|>
//     (which ends one message, not the answer) does not: it becomes
//     USER_DEFINED too.

var harmonyRendered = []string{"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}

// harmonyTypes retypes the Harmony tokens of a vocabulary read from GGUF.
func harmonyTypes(v *Vocab) {
	if v.Types == nil {
		return
	}
	ids := map[string]int32{}
	for i, s := range v.Tokens {
		if len(s) > 2 && s[0] == '<' && s[1] == '|' {
			ids[s] = int32(i)
		}
	}
	for _, s := range harmonyRendered {
		if id, ok := ids[s]; ok {
			v.Types[id] = TypeUserDefined
		}
	}
	if hasHarmonyEnds(ids) {
		if id, ok := ids["<|end|>"]; ok {
			v.Types[id] = TypeUserDefined
		}
	}
}

func hasHarmonyEnds(ids map[string]int32) bool {
	_, ret := ids["<|return|>"]
	_, call := ids["<|call|>"]
	return ret && call
}

// harmonyEOG makes <|return|> and <|call|> end generation in place of
// <|end|>, where the vocabulary has both.
func (t *Tokenizer) harmonyEOG() {
	ret, okRet := t.ids["<|return|>"]
	call, okCall := t.ids["<|call|>"]
	if !okRet || !okCall {
		return
	}
	t.eog[ret], t.eog[call] = true, true
	if end, ok := t.ids["<|end|>"]; ok {
		delete(t.eog, end)
	}
}
