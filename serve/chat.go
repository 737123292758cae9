package serve

import (
	"time"

	"github.com/conveyor-llm/conveyor/chat"
)

// renderChat renders messages (and tools) with the server's chat template,
// ending with the assistant's turn begun.
func (srv *Server) renderChat(messages []map[string]any, tools []any) (string, error) {
	tok := srv.m.Tokenizer()
	in := chat.Input{Messages: messages, Tools: tools, AddGenerationPrompt: true, Date: time.Now()}
	if id := tok.BOS(); id >= 0 {
		s := tok.Token(id)
		in.BOSToken = &s
	}
	if id := tok.EOS(); id >= 0 {
		s := tok.Token(id)
		in.EOSToken = &s
	}
	return chat.Render(srv.opts.ChatTemplate, in)
}
