package serve

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"sort"
	"time"

	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/model"
)

// The embedding and reranking endpoints. Requests of all clients go through
// engine.Model.EmbedTokens, which gathers concurrent inputs into shared
// forward passes.

// registerEmbed adds the embedding routes.
func (srv *Server) registerEmbed() {
	srv.mux.HandleFunc("POST /v1/embeddings", srv.embeddings)
	srv.mux.HandleFunc("POST /embeddings", srv.embeddings)
	for _, p := range []string{"/v1/rerank", "/rerank", "/v1/reranking", "/reranking"} {
		srv.mux.HandleFunc("POST "+p, srv.rerank)
	}
	srv.mux.HandleFunc("POST /api/embed", srv.ollamaEmbed)
}

// notGenerative answers the generation endpoints of an embedding model.
func (srv *Server) notGenerative(w http.ResponseWriter, r *http.Request) {
	badRequest("model", "the model %s computes embeddings (POST /v1/embeddings, /v1/rerank, /api/embed); it does not generate text", srv.opts.ModelID).write(w)
}

// embedInput is OpenAI's "input": a string, an array of strings, an array
// of token ids (one input) or an array of arrays of token ids.
type embedInput struct {
	texts  []string
	tokens [][]int32
}

func (in *embedInput) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		in.texts = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err == nil {
		in.texts = many
		return nil
	}
	var ids []int32
	if err := json.Unmarshal(b, &ids); err == nil {
		in.tokens = [][]int32{ids}
		return nil
	}
	var idss [][]int32
	if err := json.Unmarshal(b, &idss); err == nil {
		in.tokens = idss
		return nil
	}
	return badRequest("input", "'input' must be a string, an array of strings, an array of token ids or an array of arrays of token ids")
}

// inputs turns the request's input into token ids with the model's special
// tokens (token arrays are taken as they are).
func (srv *Server) inputs(in embedInput) ([][]int32, *requestError) {
	if in.texts == nil && in.tokens == nil {
		return nil, badRequest("input", "'input' is required")
	}
	if len(in.texts)+len(in.tokens) == 0 {
		return nil, badRequest("input", "'input' must not be an empty array")
	}
	out := in.tokens
	for _, t := range in.texts {
		out = append(out, srv.m.EmbedTokenize(t))
	}
	for i, ids := range out {
		if len(ids) == 0 {
			return nil, badRequest("input", "input %d has no tokens", i)
		}
		for _, id := range ids {
			if id < 0 || int(id) >= srv.m.Tokenizer().VocabSize() {
				return nil, badRequest("input", "input %d: token %d is outside the vocabulary (%d tokens)", i, id, srv.m.Tokenizer().VocabSize())
			}
		}
	}
	return out, nil
}

// embedErr answers a failed EmbedTokens: too long is the client's 400.
func (srv *Server) embedErr(w http.ResponseWriter, param string, err error) {
	var tl *engine.InputTooLongError
	if errors.As(err, &tl) {
		e := badRequest(param, "input %d has %d tokens, more than the model's context of %d tokens (ask for \"truncate\": true to cut it)", tl.Index, tl.Tokens, tl.Context)
		e.code = "context_length_exceeded"
		e.write(w)
		return
	}
	srv.failed.Add(1)
	srv.logf("embeddings: %v", err)
	writeError(w, http.StatusInternalServerError, "server_error", "", "", err.Error())
}

// pooled runs the inputs and returns unit vectors cut to dims values (0: all),
// with the number of tokens they held.
func (srv *Server) pooled(r *http.Request, w http.ResponseWriter, inputs [][]int32, truncate bool, dims *int, param string) ([][]float32, int, bool) {
	p, err := srv.m.Pooling()
	if err != nil {
		srv.embedErr(w, param, err)
		return nil, 0, false
	}
	if p == model.PoolRank {
		badRequest("model", "the model %s is a reranker: POST /v1/rerank", srv.opts.ModelID).write(w)
		return nil, 0, false
	}
	dim := srv.m.Hyper().Dim
	if dims != nil && (*dims < 1 || *dims > dim) {
		badRequest("dimensions", "'dimensions' must be between 1 and %d, the model's embedding size", dim).write(w)
		return nil, 0, false
	}
	vecs, err := srv.m.EmbedTokens(r.Context(), inputs, engine.EmbedOptions{Raw: true, Truncate: truncate})
	if err != nil {
		srv.embedErr(w, param, err)
		return nil, 0, false
	}
	tokens := 0
	for _, in := range inputs {
		tokens += min(len(in), srv.m.EmbedContext())
	}
	for i := range vecs {
		if dims != nil {
			vecs[i] = vecs[i][:*dims]
		}
		model.Normalize(vecs[i])
	}
	return vecs, tokens, true
}

type embeddingsRequest struct {
	Model          string     `json:"model"`
	Input          embedInput `json:"input"`
	EncodingFormat string     `json:"encoding_format"`
	Dimensions     *int       `json:"dimensions"`
	User           string     `json:"user"`
	// Truncate cuts inputs longer than the context (an extension; the
	// default answers them with a 400).
	Truncate bool `json:"truncate"`
}

// embeddings is OpenAI's POST /v1/embeddings: unit vectors, as llama-server
// returns them; with "dimensions", the first values renormalized (Matryoshka
// truncation).
func (srv *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	var req embeddingsRequest
	if e := decode(w, r, srv.opts.MaxBodyBytes, &req); e != nil {
		e.write(w)
		return
	}
	if req.Model != "" && req.Model != srv.opts.ModelID {
		writeModelNotFound(w, req.Model)
		return
	}
	if req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64" {
		badRequest("encoding_format", "'encoding_format' must be \"float\" or \"base64\"").write(w)
		return
	}
	inputs, e := srv.inputs(req.Input)
	if e != nil {
		e.write(w)
		return
	}
	vecs, tokens, ok := srv.pooled(r, w, inputs, req.Truncate, req.Dimensions, "input")
	if !ok {
		return
	}
	data := make([]map[string]any, len(vecs))
	for i, v := range vecs {
		var emb any = v
		if req.EncodingFormat == "base64" {
			raw := make([]byte, 4*len(v))
			for j, x := range v {
				binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(x))
			}
			emb = base64.StdEncoding.EncodeToString(raw)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": emb}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list", "data": data, "model": srv.opts.ModelID,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	})
}

type rerankRequest struct {
	Model           string   `json:"model"`
	Query           *string  `json:"query"`
	Documents       []string `json:"documents"`
	TopN            *int     `json:"top_n"`
	ReturnDocuments bool     `json:"return_documents"`
	Truncate        bool     `json:"truncate"`
}

// rerank is llama-server's POST /v1/rerank (Cohere's and Jina's shape):
// results sorted by relevance_score, the classification head's raw output.
func (srv *Server) rerank(w http.ResponseWriter, r *http.Request) {
	var req rerankRequest
	if e := decode(w, r, srv.opts.MaxBodyBytes, &req); e != nil {
		e.write(w)
		return
	}
	if req.Model != "" && req.Model != srv.opts.ModelID {
		writeModelNotFound(w, req.Model)
		return
	}
	if req.Query == nil {
		badRequest("query", "'query' is required").write(w)
		return
	}
	if len(req.Documents) == 0 {
		badRequest("documents", "'documents' must be a non-empty array of strings").write(w)
		return
	}
	if req.TopN != nil && *req.TopN < 0 {
		badRequest("top_n", "'top_n' must not be negative").write(w)
		return
	}
	if p, err := srv.m.Pooling(); err != nil || p != model.PoolRank {
		badRequest("model", "the model %s is not a reranker (its pooling is not rank): POST /v1/embeddings", srv.opts.ModelID).write(w)
		return
	}
	inputs := make([][]int32, len(req.Documents))
	tokens := 0
	for i, d := range req.Documents {
		inputs[i] = srv.m.RerankTokenize(*req.Query, d)
		tokens += min(len(inputs[i]), srv.m.EmbedContext())
	}
	scores, err := srv.m.EmbedTokens(r.Context(), inputs, engine.EmbedOptions{Raw: true, Truncate: req.Truncate})
	if err != nil {
		srv.embedErr(w, "documents", err)
		return
	}
	type result struct {
		Index          int            `json:"index"`
		RelevanceScore float64        `json:"relevance_score"`
		Document       map[string]any `json:"document,omitempty"`
	}
	results := make([]result, len(scores))
	for i, s := range scores {
		results[i] = result{Index: i, RelevanceScore: float64(s[0])}
		if req.ReturnDocuments {
			results[i].Document = map[string]any{"text": req.Documents[i]}
		}
	}
	sort.SliceStable(results, func(a, b int) bool { return results[a].RelevanceScore > results[b].RelevanceScore })
	if req.TopN != nil && *req.TopN < len(results) {
		results = results[:*req.TopN]
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": newID("rerank-"), "object": "list", "model": srv.opts.ModelID, "results": results,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	})
}

type ollamaEmbedRequest struct {
	Model      string     `json:"model"`
	Input      embedInput `json:"input"`
	Truncate   *bool      `json:"truncate"`
	Dimensions *int       `json:"dimensions"`
}

// ollamaEmbed is ollama's POST /api/embed: unit vectors; inputs longer than
// the context are cut unless "truncate" is false.
func (srv *Server) ollamaEmbed(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req ollamaEmbedRequest
	if e := decode(w, r, srv.opts.MaxBodyBytes, &req); e != nil {
		e.write(w)
		return
	}
	if req.Model != "" && req.Model != srv.opts.ModelID {
		writeModelNotFound(w, req.Model)
		return
	}
	inputs, e := srv.inputs(req.Input)
	if e != nil {
		e.write(w)
		return
	}
	vecs, tokens, ok := srv.pooled(r, w, inputs, req.Truncate == nil || *req.Truncate, req.Dimensions, "input")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"model": srv.opts.ModelID, "embeddings": vecs, "total_duration": time.Since(start).Nanoseconds(),
		"load_duration": 0, "prompt_eval_count": tokens,
	})
}
