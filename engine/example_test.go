package engine_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// Load a model, open a session and stream a greedy generation token by token.
func Example() {
	path, err := testdata.Lookup("models/stories260K.gguf")
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := engine.Load(path, engine.Options{Backend: "cpu"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	s, err := m.NewSession(engine.SessionOptions{Context: 256})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	var text strings.Builder
	res, err := s.Generate(context.Background(), engine.Request{
		Prompt:    "Once upon a time",
		MaxTokens: 12,
		Sampling:  engine.DefaultSampling(), // greedy
	}, func(t engine.Token) error {
		text.WriteString(t.Text) // each token's text, as soon as it is complete
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%q\n", text.String())
	fmt.Println(res.Stats.PromptTokens, "prompt tokens,", res.Stats.GeneratedTokens, "generated")
	// Output:
	// ", there was a little girl named Lily. She"
	// 5 prompt tokens, 12 generated
}
