package engine

import (
	"time"

	"github.com/conveyor-llm/conveyor/chat"
)

// ChatPrompt renders a conversation with a chat template (see chat.Resolve)
// and tokenizes it as llama.cpp does: special tokens written by the template
// become their ids, and BOS is added when the vocabulary asks for it unless
// the template already wrote one. The template also sees bos_token,
// eos_token, add_generation_prompt (true), tools and enable_thinking (true).
func (m *Model) ChatPrompt(template string, messages []map[string]any, tools []any, date time.Time) ([]int32, string, error) {
	tok := m.tok
	in := chat.Input{Messages: messages, Tools: tools, AddGenerationPrompt: true, Date: date,
		Vars: map[string]any{"enable_thinking": true}}
	if id := tok.BOS(); id >= 0 {
		s := tok.Token(id)
		in.BOSToken = &s
	}
	if id := tok.EOS(); id >= 0 {
		s := tok.Token(id)
		in.EOSToken = &s
	}
	text, err := chat.Render(template, in)
	if err != nil {
		return nil, "", err
	}
	ids := tok.Encode(text, true, true)
	if bos := tok.BOS(); len(ids) >= 2 && ids[0] == bos && ids[1] == bos {
		ids = ids[1:]
	}
	return ids, text, nil
}
