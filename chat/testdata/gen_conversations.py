#!/usr/bin/env python3
"""Regenerates conversations.json: the conversations below rendered by Python's
jinja2, set up as Hugging Face transformers sets it up for apply_chat_template
(immutable sandbox, trim_blocks, lstrip_blocks, loop controls, raise_exception,
strftime_now pinned to 2024-07-26, json.dumps as tojson; tools none unless the
conversation has tools; documents none; bos_token / eos_token from the kit's
templates.json, left undefined where null), with the chat-template kit's
templates under an Apache-2.0 or MIT license.

    python3 gen_conversations.py ../../../shared/chat-templates   (needs jinja2 3.1)
"""
import datetime
import json
import os
import sys

from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class Raised(Exception):
    pass


def raise_exception(message):
    raise Raised(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = lambda f: datetime.datetime(2024, 7, 26).strftime(f)

system = {"role": "system", "content": "You are a helpful assistant. Answer briefly."}
tools = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city",
        "parameters": {"type": "object", "properties": {
            "location": {"type": "string", "description": "The city, e.g. Paris"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit", "default": "celsius"},
            "days": {"type": "integer", "description": "Forecast days"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "precise": {"type": "boolean", "nullable": True}},
            "required": ["location"]}}},
    {"type": "function", "function": {
        "name": "search", "description": "Search the web — any language",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string"},
            "opts": {"type": "object", "properties": {"lang": {"type": "string"}}},
            "limit": {"type": "number", "default": 5.5}},
            "required": ["query", "limit"]}}},
]
call = {"id": "abc123XYZ", "type": "function", "function": {"name": "get_weather", "arguments": {
    "location": "Zürich", "unit": "celsius", "days": 3, "tags": ["a", "b"], "precise": None, "ratio": 0.5}}}
conversations = {
    "multi": {"messages": [system, {"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello! How can I help?"},
                           {"role": "user", "content": "What is 2+2?"}], "add_generation_prompt": True},
    "multi-nosys": {"messages": [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello! How can I help?"},
                                 {"role": "user", "content": "What is 2+2?"}], "add_generation_prompt": True},
    "nogen": {"messages": [system, {"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello! How can I help?"}],
              "add_generation_prompt": False},
    "nogen-user": {"messages": [{"role": "user", "content": "Hi there"}], "add_generation_prompt": False},
    "unicode": {"messages": [
        {"role": "system", "content": "Réponds en français.\nSois bref.  "},
        {"role": "user", "content": "  Héllo wörld — 你好 😀\nSecond line\n\n\tTabbed \"quoted\" 'single' \\ back\u2028sep\u0007bell"},
        {"role": "assistant", "content": "«Oui» ✓\n"},
        {"role": "user", "content": "Ünïcode again ✓ <b>&amp;</b>"}], "add_generation_prompt": True},
    "think": {"messages": [{"role": "user", "content": "Think then answer"},
                           {"role": "assistant", "content": "<think>\nLet me think.\n</think>\n\nThe answer is 4."},
                           {"role": "user", "content": "Again"}], "add_generation_prompt": True},
    "parts": {"messages": [{"role": "system", "content": [{"type": "text", "text": "Sys part."}]},
                           {"role": "user", "content": [{"type": "text", "text": "Part one."}, {"type": "text", "text": "Part two."}]}],
              "add_generation_prompt": True},
    "tools": {"messages": [system, {"role": "user", "content": "Weather in Zürich?"},
                           {"role": "assistant", "content": "", "tool_calls": [call]},
                           {"role": "tool", "tool_call_id": "abc123XYZ", "name": "get_weather", "content": "{\"temp\": 21, \"sky\": \"sunny\"}"},
                           {"role": "assistant", "content": "It is 21 °C and sunny."}, {"role": "user", "content": "Thanks"}],
              "tools": tools, "add_generation_prompt": True},
    "tools-only": {"messages": [{"role": "user", "content": "Weather in Zürich?"}], "tools": tools, "add_generation_prompt": True},
    "tools-strargs": {"messages": [{"role": "user", "content": "Weather?"},
                                   {"role": "assistant", "content": None, "tool_calls": [{"id": "abc123XYZ", "type": "function", "function": {
                                       "name": "get_weather", "arguments": "{\"location\": \"Paris\"}"}}]},
                                   {"role": "tool", "tool_call_id": "abc123XYZ", "content": "sunny"}],
                      "tools": tools, "add_generation_prompt": True},
    "tools-nullcontent": {"messages": [system, {"role": "user", "content": "Weather?"},
                                       {"role": "assistant", "content": None, "tool_calls": [call, {"id": "def456UVW", "type": "function", "function": {
                                           "name": "search", "arguments": {"query": "x", "limit": 2}}}]},
                                       {"role": "tool", "tool_call_id": "abc123XYZ", "content": "sunny"},
                                       {"role": "tool", "tool_call_id": "def456UVW", "content": "found"}],
                          "tools": tools, "add_generation_prompt": True},
    "emptytools": {"messages": [{"role": "user", "content": "Hi"}], "tools": [], "add_generation_prompt": True},
}

kit = sys.argv[1]
meta = json.load(open(os.path.join(kit, "templates.json")))["templates"]
permissive = sorted(name for name, m in meta.items() if m["license"] in ("Apache-2.0", "MIT"))
expected = []
for name in permissive:
    src = open(os.path.join(kit, "templates", name + ".jinja"), encoding="utf-8").read()
    for cname, conv in conversations.items():
        kw = dict(messages=conv["messages"], add_generation_prompt=conv["add_generation_prompt"],
                  tools=conv.get("tools"), documents=None)
        for k in ("bos_token", "eos_token"):
            if meta[name].get(k) is not None:
                kw[k] = meta[name][k]
        rec = {"template": name + ".jinja", "conversation": cname,
               "bos_token": meta[name].get("bos_token"), "eos_token": meta[name].get("eos_token")}
        try:
            rec["rendered"] = env.from_string(src).render(**kw)
        except Raised as e:
            rec["error"], rec["error_kind"] = str(e), "raise_exception"
        except Exception as e:
            rec["error"], rec["error_kind"] = type(e).__name__ + ": " + str(e), type(e).__name__
        expected.append(rec)
with open("conversations.json", "w", encoding="utf-8") as f:
    json.dump({"conversations": conversations, "expected": expected}, f, ensure_ascii=False, indent=1)
    f.write("\n")
