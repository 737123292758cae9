package serve

import (
	"context"
	"time"

	"github.com/conveyor-llm/conveyor/chat"
)

// renderChat renders messages (and tools) with the server's chat template,
// ending with the assistant's turn begun.
// kwargs are the request's chat_template_kwargs, further template variables
// (enable_thinking is true unless they say otherwise, as llama-server's); ctx
// cancels the rendering with its request.
func (srv *Server) renderChat(ctx context.Context, messages []map[string]any, tools []any, kwargs map[string]any) (string, error) {
	return srv.render(ctx, messages, tools, kwargs, true)
}

// render is renderChat with the assistant's turn begun or not.
func (srv *Server) render(ctx context.Context, messages []map[string]any, tools []any, kwargs map[string]any, addGenerationPrompt bool) (string, error) {
	tok := srv.m.Tokenizer()
	in := chat.Input{Messages: messages, Tools: tools, AddGenerationPrompt: addGenerationPrompt, Date: time.Now(), Context: ctx,
		Vars: map[string]any{"enable_thinking": true}}
	for k, v := range kwargs {
		in.Vars[k] = v
	}
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
