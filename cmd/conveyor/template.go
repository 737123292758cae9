package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/conveyor-llm/conveyor/chat"
)

// templateCmd renders one chat-template case:
//
//	conveyor template --file T.jinja --input CASE.json [--date YYYY-MM-DD]
//
// CASE.json holds "messages", "add_generation_prompt", "bos_token" and
// "eos_token" (null: undefined) and, when there are tools, "tools". The
// rendering is printed exactly, with nothing added.
func templateCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("template", stderr)
	file := fs.String("file", "", "chat template `file` (Jinja), or a builtin name")
	input := fs.String("input", "", "case `file` (JSON: messages, add_generation_prompt, bos_token, eos_token, tools)")
	date := fs.String("date", "", "the day strftime_now sees, `YYYY-MM-DD` (default: now)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" || *input == "" || fs.NArg() > 0 {
		return fmt.Errorf("%w: give --file T.jinja and --input CASE.json", errUsage)
	}
	var src string
	if data, err := os.ReadFile(*file); err == nil {
		src = string(data)
	} else if t, berr := chat.Builtin(*file); berr == nil {
		src = t
	} else {
		return err
	}
	data, err := os.ReadFile(*input)
	if err != nil {
		return err
	}
	in, err := chat.ParseCase(data)
	if err != nil {
		return fmt.Errorf("%s: %w", *input, err)
	}
	if *date != "" {
		d, err := time.Parse("2006-01-02", *date)
		if err != nil {
			return fmt.Errorf("%w: --date %q: want YYYY-MM-DD", errUsage, *date)
		}
		in.Date = d
	}
	out, err := chat.Render(src, in)
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, out)
	return err
}
