package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/chat"
	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/engine/runopts"
	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// A two-turn chat streams both answers, and the second turn computes only its
// new tokens: the first turn's are reused from the KV cache.
func TestChatReusesTheConversation(t *testing.T) {
	model := testdata.Path(t, "models/stories260K.gguf")
	stdin = strings.NewReader("Once upon a time\n/stats\nThe end\n/stats\n/reset\n/stats\n")
	defer func() { stdin = nil }()
	code, out, errOut := conveyor("chat", "-m", model, "--chat-template", "chatml", "--temp", "0", "-n", "12", "--backend", "cpu", "--system", "Tell a story.")
	require.Equal(t, 0, code, errOut)
	stats := regexp.MustCompile(`last turn: prompt (\d+) tokens, (\d+) computed and (\d+) reused`).FindAllStringSubmatch(out, -1)
	require.Len(t, stats, 2, out)
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	require.Equal(t, 0, num(stats[0][3]), "the first turn reuses nothing")
	first, second := num(stats[0][1]), num(stats[1][1])
	require.Greater(t, num(stats[1][3]), first, "the second turn reuses the first turn's prompt and more")
	require.Equal(t, second, num(stats[1][2])+num(stats[1][3]))
	require.Contains(t, out, "(conversation reset)")
	require.Contains(t, out, "(no turn yet)")
}

// A conversation that outgrows the context drops its oldest turns after the
// system prompt and goes on; --no-context-shift keeps the hard error.
func TestChatContextShift(t *testing.T) {
	model := testdata.Path(t, "models/stories260K.gguf")
	turns := "Once upon a time\nThe cat sat\nLily and Tom\nThe sun was\nA big dog\n/stats\n"
	args := []string{"chat", "-m", model, "--chat-template", "chatml", "--temp", "0", "-n", "10", "-c", "160", "--backend", "cpu", "--system", "Tell a story."}

	stdin = strings.NewReader(turns)
	code, out, errOut := conveyor(args...)
	stdin = nil
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, errOut, "too long")
	m := regexp.MustCompile(`conversation: (\d+) turns, \d+ prompt tokens computed, \d+ reused, (\d+) old turns dropped`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.Equal(t, "5", m[1], out)
	require.NotEqual(t, "0", m[2], "no turn was dropped: make the conversation longer\n%s", out)
	// The last turn, with old turns dropped, still reuses the system prompt
	// from the cache.
	last := regexp.MustCompile(`last turn: prompt \d+ tokens, \d+ computed and (\d+) reused`).FindStringSubmatch(out)
	require.NotNil(t, last, out)
	reused, _ := strconv.Atoi(last[1])
	require.GreaterOrEqual(t, reused, len("<|im_start|>system\nTell a story.<|im_end|>\n")/4, "hardly anything reused:\n%s", out)

	stdin = strings.NewReader(turns)
	code, out, errOut = conveyor(append(args, "--no-context-shift")...)
	stdin = nil
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "prompt too long", out)
}

// A context shift in the middle of an answer keeps the system prompt (unless
// --keep says otherwise): its tokens begin every prompt of the conversation.
func TestChatShiftKeepsTheSystemPrompt(t *testing.T) {
	m, err := engine.Load(testdata.Path(t, "models/stories260K.gguf"), engine.Options{Backend: "cpu", Threads: 2})
	require.NoError(t, err)
	defer m.Close()
	template, err := chat.Resolve(m.File(), "chatml")
	require.NoError(t, err)
	s, err := m.NewSession(engine.SessionOptions{Context: 256})
	require.NoError(t, err)
	defer s.Close()
	c := &chatLoop{m: m, s: s, template: template, system: "Tell a story.", opts: &runopts.Options{}}
	c.reset()
	c.messages = append(c.messages, map[string]any{"role": "user", "content": "Once upon a time"})
	ids, _, err := m.ChatPrompt(template, c.messages, nil, time.Now())
	require.NoError(t, err)
	system := len(m.Tokenizer().Encode("<|im_start|>system\nTell a story.<|im_end|>\n", false, true))
	keep := c.keep(ids)
	require.GreaterOrEqual(t, keep, system)
	require.Less(t, keep, system+len(m.Tokenizer().Encode("<|im_start|>user", false, true)), "kept into the user's turn")

	c.opts.Keep = 3
	require.Equal(t, 3, c.keep(ids))
	c.system = ""
	c.opts.Keep = 0
	c.reset()
	require.Zero(t, c.keep(ids))
}
