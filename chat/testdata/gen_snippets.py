#!/usr/bin/env python3
"""Regenerates snippets.json: each template of snippets.txt (separated by lines
"====") rendered by Python's jinja2, set up as Hugging Face transformers sets it
up for apply_chat_template (immutable sandbox, trim_blocks, lstrip_blocks, loop
controls, raise_exception, strftime_now pinned to 2024-07-26, json.dumps as
tojson), with the conversation below as `messages`.

    python3 gen_snippets.py        (in this folder; needs jinja2 3.1)
"""
import datetime
import json

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

data = [
    {"role": "user", "content": "Hello World", "n": 3, "f": 2.5, "b": True, "z": None, "l": [3, 1, 2],
     "d": {"b": 1, "a": [1, {"x": "é"}]}},
    {"role": "assistant", "content": "  padded\n text  ", "n": -7, "f": 1e20, "l": [], "d": {}},
    {"role": "tool", "content": "a,b,,c", "n": 0, "f": 0.1, "l": ["x", "Y", "x"], "d": {"k": "v"}},
]
cases = []
for src in open("snippets.txt", encoding="utf-8").read().split("\n====\n"):
    rec = {"template": src}
    try:
        rec["rendered"] = env.from_string(src).render(
            messages=data, add_generation_prompt=True, tools=None, documents=None, bos_token="<s>")
    except Raised as e:
        rec["error"], rec["error_kind"] = str(e), "raise_exception"
    except Exception as e:
        rec["error"], rec["error_kind"] = type(e).__name__ + ": " + str(e), type(e).__name__
    cases.append(rec)
with open("snippets.json", "w", encoding="utf-8") as f:
    json.dump({"messages": data, "cases": cases}, f, ensure_ascii=False, indent=1)
    f.write("\n")
