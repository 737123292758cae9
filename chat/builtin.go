package chat

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/conveyor-llm/conveyor/gguf"
)

// contentText is a macro that renders a message's content, given as a string or
// as a list of text parts.
const contentText = `{%- macro text(content) -%}
{%- if content is string -%}{{ content }}
{%- elif content is iterable and content is not mapping -%}
{%- for part in content if part.type == 'text' %}{{ part.text }}{% endfor -%}
{%- endif -%}
{%- endmacro -%}
`

// builtins are templates for the common prompt formats, for models whose GGUF
// carries none (--chat-template NAME).
var builtins = map[string]string{
	// chatml with tools as the chatml models that call tools (Qwen 2.5 and
	// 3, Hermes) render them: the tools listed in the system turn, an
	// assistant's calls as <tool_call> JSON after its content, and tool
	// results as <tool_response> blocks in one user turn (Qwen 3's text,
	// without its default system prompt or reasoning).
	"chatml": contentText + `
{%- if tools -%}
{{ '<|im_start|>system\n' }}
{%- if messages and messages[0].role == 'system' -%}{{ text(messages[0].content) + '\n\n' }}{%- endif -%}
{{ '# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>' }}
{%- for tool in tools -%}{{ '\n' }}{{ tool | tojson }}{%- endfor -%}
{{ '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' }}
{%- endif -%}
{%- for message in messages -%}
{%- if message.role == 'system' and loop.first and tools -%}
{%- elif message.role == 'assistant' and message.tool_calls -%}
{%- set content = text(message.content) -%}
{{ '<|im_start|>assistant\n' + content }}
{%- for call in message.tool_calls -%}
{%- if content or not loop.first -%}{{ '\n' }}{%- endif -%}
{%- set fn = call.function if call.function is defined else call -%}
{{ '<tool_call>\n{"name": "' + fn.name + '", "arguments": ' }}
{%- if fn.arguments is string -%}{{ fn.arguments }}{%- else -%}{{ fn.arguments | tojson }}{%- endif -%}
{{ '}\n</tool_call>' }}
{%- endfor -%}
{{ '<|im_end|>\n' }}
{%- elif message.role == 'tool' -%}
{%- if loop.first or messages[loop.index0 - 1].role != 'tool' -%}{{ '<|im_start|>user' }}{%- endif -%}
{{ '\n<tool_response>\n' + text(message.content) + '\n</tool_response>' }}
{%- if loop.last or messages[loop.index0 + 1].role != 'tool' -%}{{ '<|im_end|>\n' }}{%- endif -%}
{%- else -%}
{{ '<|im_start|>' + message.role + '\n' + text(message.content) + '<|im_end|>\n' }}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\n' }}{%- endif -%}`,

	"llama3": contentText + `{{ bos_token }}
{%- for message in messages -%}
{{ '<|start_header_id|>' + message.role + '<|end_header_id|>\n\n' + text(message.content) | trim + '<|eot_id|>' }}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif -%}`,

	// Gemma has no system role: a system message opens the first user turn.
	"gemma": contentText + `{{ bos_token }}
{%- set ns = namespace(system='') -%}
{%- for message in messages -%}
{%- if message.role == 'system' -%}
{%- set ns.system = ns.system + text(message.content) | trim + '\n\n' -%}
{%- else -%}
{%- set role = 'model' if message.role == 'assistant' else message.role -%}
{%- set body = text(message.content) | trim -%}
{%- if role == 'user' and ns.system -%}{%- set body = ns.system + body -%}{%- set ns.system = '' -%}{%- endif -%}
{{ '<start_of_turn>' + role + '\n' + body + '<end_of_turn>\n' }}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}`,

	"phi3": contentText + `
{%- for message in messages -%}
{{ '<|' + message.role + '|>\n' + text(message.content) + '<|end|>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '<|assistant|>\n' }}{%- endif -%}`,

	// Mistral's [INST] format: a system message goes before the first user message.
	"mistral": contentText + `{{ bos_token }}
{%- set ns = namespace(system='') -%}
{%- for message in messages -%}
{%- if message.role == 'system' -%}
{%- set ns.system = ns.system + text(message.content) + '\n\n' -%}
{%- elif message.role == 'user' -%}
{{ '[INST] ' + ns.system + text(message.content) + ' [/INST]' }}
{%- set ns.system = '' -%}
{%- elif message.role == 'assistant' -%}
{{ text(message.content) + eos_token }}
{%- endif -%}
{%- endfor -%}`,
}

// BuiltinNames lists the builtin templates' names, sorted.
func BuiltinNames() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Builtin is the builtin template called name.
func Builtin(name string) (string, error) {
	t, ok := builtins[name]
	if !ok {
		return "", fmt.Errorf("unknown chat template %q (builtin: %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	return t, nil
}

// FromGGUF is the model's chat template (tokenizer.chat_template), if it has one.
func FromGGUF(f *gguf.File) (string, bool) {
	if f == nil {
		return "", false
	}
	v, ok := f.Lookup("tokenizer.chat_template")
	if !ok {
		return "", false
	}
	s, err := v.Str()
	if err != nil || s == "" {
		return "", false
	}
	return s, true
}

// Resolve picks the chat template to use: flag (the --chat-template value: a
// builtin NAME or a Jinja FILE) when given, else the model's own. The template
// is checked to parse.
func Resolve(f *gguf.File, flag string) (string, error) {
	var src string
	switch {
	case flag == "":
		t, ok := FromGGUF(f)
		if !ok {
			return "", fmt.Errorf("the model has no chat template (tokenizer.chat_template): give one with --chat-template NAME or FILE (builtin: %s)",
				strings.Join(BuiltinNames(), ", "))
		}
		src = t
	default:
		if t, ok := builtins[flag]; ok {
			src = t
			break
		}
		data, err := os.ReadFile(flag)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("--chat-template %q: neither a builtin template (%s) nor a file", flag, strings.Join(BuiltinNames(), ", "))
			}
			return "", fmt.Errorf("--chat-template: %w", err)
		}
		src = string(data)
	}
	if _, err := Compile(src); err != nil {
		return "", fmt.Errorf("chat template: %w", err)
	}
	return src, nil
}
