package serve

import (
	"github.com/conveyor-llm/conveyor/engine"
)

// logprobsOf is the choice's "logprobs" for tokens: OpenAI's chat shape
// ({"content": [{"token", "logprob", "bytes", "top_logprobs"}]}) or the
// legacy completions one ({"tokens", "token_logprobs", "top_logprobs",
// "text_offset"}); nil without logprobs.
func (srv *Server) logprobsOf(g *generation, toks []engine.Token, offset int) any {
	if !g.req.Logprobs {
		return nil
	}
	tok := srv.m.Tokenizer()
	piece := func(id int32) string { return string(tok.Piece(id)) }
	if g.chat {
		content := make([]any, 0, len(toks))
		for _, t := range toks {
			top := make([]any, len(t.TopLogprobs))
			for i, tl := range t.TopLogprobs {
				top[i] = map[string]any{"token": piece(tl.ID), "logprob": tl.Logprob, "bytes": byteList(piece(tl.ID))}
			}
			content = append(content, map[string]any{"token": piece(t.ID), "logprob": t.Logprob, "bytes": byteList(piece(t.ID)), "top_logprobs": top})
		}
		return map[string]any{"content": content}
	}
	out := map[string]any{"tokens": []string{}, "token_logprobs": []float32{}, "top_logprobs": []any{}, "text_offset": []int{}}
	var tokens []string
	var lps []float32
	var tops []any
	var offs []int
	for _, t := range toks {
		tokens = append(tokens, piece(t.ID))
		lps = append(lps, t.Logprob)
		top := map[string]float32{}
		for _, tl := range t.TopLogprobs {
			top[piece(tl.ID)] = tl.Logprob
		}
		tops = append(tops, top)
		offs = append(offs, offset)
		offset += len(piece(t.ID))
	}
	if tokens != nil {
		out["tokens"], out["token_logprobs"], out["top_logprobs"], out["text_offset"] = tokens, lps, tops, offs
	}
	return out
}

// byteList is s's bytes as OpenAI gives them: a list of numbers.
func byteList(s string) []int {
	out := make([]int, len(s))
	for i := range len(s) {
		out[i] = int(s[i])
	}
	return out
}

// withLogprobs puts the tokens read since the last chunk into chunk c (a
// streamed chunk), as its choice's logprobs.
func (srv *Server) withLogprobs(g *generation, c map[string]any) map[string]any {
	if !g.req.Logprobs || len(g.toks) == 0 {
		return c
	}
	choice := c["choices"].([]any)[0].(map[string]any)
	choice["logprobs"] = srv.logprobsOf(g, g.toks, g.offset)
	for _, t := range g.toks {
		g.offset += len(srv.m.Tokenizer().Piece(t.ID))
	}
	g.toks = g.toks[:0]
	return c
}
