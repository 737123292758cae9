package main

import (
	"fmt"
	"github.com/conveyor-llm/conveyor/engine/runopts"
	"io"
	"os"
	"strings"

	"github.com/conveyor-llm/conveyor/tokenizer"
)

func tokenizeCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokenize", stderr)
	path := fs.String("m", "", "model or vocab-only `file` (GGUF; default: the embedded stories260K)")
	noBOS := fs.Bool("no-bos", false, "add no BOS/EOS tokens")
	special := fs.Bool("special", false, "turn special-token text (<s>, <|eot_id|>) into its ids")
	asJSON := fs.Bool("json", false, `print {"ids":[...],"pieces":[...]} on one line`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: give the text as one argument (- reads standard input)", errUsage)
	}
	text := fs.Arg(0)
	if text == "-" {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return err
		}
		text = string(b)
	}
	f, err := openModelFile(*path, stderr)
	if err != nil {
		return err
	}
	defer f.Close()
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		return err
	}
	ids := tok.Encode(text, !*noBOS, *special)
	if *asJSON {
		pieces := make([]string, len(ids))
		for i, id := range ids {
			pieces[i] = tok.Token(id)
		}
		if ids == nil {
			ids = []int32{}
		}
		line, err := runopts.JSONLine(struct {
			IDs    []int32  `json:"ids"`
			Pieces []string `json:"pieces"`
		}{ids, pieces})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, string(line))
		return err
	}
	words := make([]string, len(ids))
	for i, id := range ids {
		words[i] = fmt.Sprint(id)
	}
	_, err = fmt.Fprintln(stdout, strings.Join(words, " "))
	return err
}
