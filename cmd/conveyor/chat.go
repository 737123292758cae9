package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/conveyor-llm/conveyor/chat"
	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/engine/runopts"
)

// stdin is where `conveyor chat` reads the user's turns (tests replace it).
var stdin io.Reader = os.Stdin

func chatCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("chat", stderr)
	opts := runopts.Register(fs)
	hf := hfFlag(fs)
	system := fs.String("system", "", "system prompt")
	templateFlag := fs.String("chat-template", "", "chat template: a builtin NAME ("+strings.Join(chat.BuiltinNames(), ", ")+") or a Jinja FILE (default: the model's)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := opts.Check(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	loadOpts := opts.Engine()
	loadOpts.Progress = runopts.LoadProgress(stderr)
	loadOpts.Log = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	path, err := resolveModel(opts.Model, *hf, stderr)
	if err != nil {
		return err
	}
	m, err := loadInterruptibly(path, loadOpts, stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	template, err := chat.Resolve(m.File(), *templateFlag)
	if err != nil {
		return err
	}
	s, err := m.NewSession(opts.Session())
	if err != nil {
		return err
	}
	defer s.Close()

	c := &chatLoop{m: m, s: s, template: template, system: *system, opts: opts, stdout: stdout, stderr: stderr}
	c.reset()
	fmt.Fprintln(stderr, "chat: type a message; /reset starts over, /stats shows what the last turn cost, Ctrl-D quits")
	in := bufio.NewScanner(stdin)
	in.Buffer(nil, 1<<20)
	for {
		fmt.Fprint(stdout, "> ")
		if !in.Scan() {
			fmt.Fprintln(stdout)
			return in.Err()
		}
		line := strings.TrimSpace(in.Text())
		switch line {
		case "":
			continue
		case "/reset":
			c.reset()
			fmt.Fprintln(stdout, "(conversation reset)")
			continue
		case "/stats":
			c.printStats()
			continue
		}
		if err := c.turn(line); err != nil {
			return err
		}
	}
}

// chatLoop is one terminal conversation; each turn reuses the KV cache of the
// turns before, so only the new tokens are computed.
type chatLoop struct {
	m              *engine.Model
	s              *engine.Session
	template       string
	system         string
	opts           *runopts.Options
	stdout, stderr io.Writer
	messages       []map[string]any
	last           *engine.Result
	turns          int
	computed       int     // prompt tokens computed over the conversation
	reused         int     // prompt tokens reused from the cache
	shifted        int     // turns dropped to fit the context
	systemIDs      []int32 // the system prompt rendered alone, which a context shift keeps
}

// dropOldestTurn drops the oldest user turn after the system prompt, with the
// answers after it, and reports whether there was one to drop besides the
// turn being answered.
func (c *chatLoop) dropOldestTurn() bool {
	first := 0
	if len(c.messages) > 0 && c.messages[0]["role"] == "system" {
		first = 1
	}
	next := first + 1
	for next < len(c.messages) && c.messages[next]["role"] != "user" {
		next++
	}
	if next >= len(c.messages) { // only the turn being answered is left
		return false
	}
	c.messages = append(c.messages[:first], c.messages[next:]...)
	return true
}

func (c *chatLoop) reset() {
	c.messages = nil
	if c.system != "" {
		c.messages = append(c.messages, map[string]any{"role": "system", "content": c.system})
	}
	c.s.Reset()
	c.last, c.turns, c.computed, c.reused, c.shifted = nil, 0, 0, 0, 0
	c.systemIDs = nil
	if c.system != "" { // a template that wants a user message too keeps nothing
		c.systemIDs, _, _ = c.m.ChatPrompt(c.template, c.messages, nil, time.Now())
	}
}

// keep is how many tokens of prompt (besides BOS) a context shift keeps:
// --keep when given, else those the system prompt rendered alone begins
// with too.
func (c *chatLoop) keep(prompt []int32) int {
	if c.opts.Keep != 0 {
		return c.opts.Keep
	}
	n := 0
	for n < len(prompt) && n < len(c.systemIDs) && prompt[n] == c.systemIDs[n] {
		n++
	}
	if n > 0 && prompt[0] == c.m.Tokenizer().BOS() {
		n--
	}
	return n
}

func (c *chatLoop) turn(user string) error {
	c.messages = append(c.messages, map[string]any{"role": "user", "content": user})
	ids, _, err := c.m.ChatPrompt(c.template, c.messages, nil, time.Now())
	if err != nil {
		c.messages = c.messages[:len(c.messages)-1]
		return err
	}
	// A conversation grown past the context drops its oldest turns after the
	// system prompt (a context shift), unless --no-context-shift.
	for !c.opts.NoShift && len(ids) >= c.s.Context() && c.dropOldestTurn() {
		if ids, _, err = c.m.ChatPrompt(c.template, c.messages, nil, time.Now()); err != nil {
			c.messages = c.messages[:len(c.messages)-1]
			return err
		}
		c.shifted++
	}
	req := c.opts.Request()
	req.Prompt, req.PromptIDs, req.Keep = "", ids, c.keep(ids)
	// Ctrl-C stops this answer, not the chat.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := c.s.Generate(ctx, req, func(t engine.Token) error {
		_, err := io.WriteString(c.stdout, t.Text)
		return err
	})
	fmt.Fprintln(c.stdout)
	if errors.Is(err, engine.ErrPromptTooLong) {
		fmt.Fprintf(c.stderr, "chat: %v; /reset starts over\n", err)
		c.messages = c.messages[:len(c.messages)-1]
		return nil
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	c.messages = append(c.messages, map[string]any{"role": "assistant", "content": res.Text})
	c.last = res
	c.turns++
	c.computed += res.Stats.PromptTokens - res.Stats.ReusedTokens
	c.reused += res.Stats.ReusedTokens
	return nil
}

func (c *chatLoop) printStats() {
	if c.last == nil {
		fmt.Fprintln(c.stdout, "(no turn yet)")
		return
	}
	st := c.last.Stats
	fmt.Fprintf(c.stdout, "last turn: prompt %d tokens, %d computed and %d reused from the cache; generated %d; time to first token %.3f s; prefill %.1f tok/s, decode %.1f tok/s\n",
		st.PromptTokens, st.PromptTokens-st.ReusedTokens, st.ReusedTokens, st.GeneratedTokens, st.TTFTSeconds, st.PrefillTokPerS, st.DecodeTokPerS)
	fmt.Fprintf(c.stdout, "conversation: %d turns, %d prompt tokens computed, %d reused, %d old turns dropped to fit the context\n", c.turns, c.computed, c.reused, c.shifted)
}
