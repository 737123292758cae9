#!/bin/sh
# llamacpp-compare.sh: does llama.cpp read what we write, and compute what we
# compute? (issue 5's last criterion). Synthesizes a model of the 110M shape
# (dim 768, 12 layers, 12 heads, FFN 2048) with the Llama 2 vocabulary,
# quantizes it with `conveyor quantize`, and for each file prints the largest
# difference between llama.cpp's top-10 logits after the prompt and ours for
# the same ids, whether the top-1 ids agree, and where llama.cpp put the
# weights (its "AMX model buffer" holds the tensors its AMX kernels multiply,
# in their own order).
#
# A developer tool, not run in CI (CI has no llama.cpp). Needs node and the
# oracle installed as ../shared/oracle/README.md says (ORACLE: the folder
# with logits.mjs and node_modules), and the shared test data.
#
#   scripts/llamacpp-compare.sh [-p PROMPT] [-b cpu|vulkan] [-k DIR] [TYPE...]
#
# TYPE: F32 (the synthesized file) or any `conveyor quantize` type; default
# F32 Q8_0 Q4_K_M Q5_K_M Q6_K. -k keeps the models in DIR (and reuses them).
# llama.cpp's CPU flash attention takes another path (tiled) from 64 query
# rows on, so prompts should stay under 64 tokens to compare like with like.
set -eu
cd "$(dirname "$0")/.."
ORACLE=${ORACLE:-/tmp/oracle}
TESTDATA=${CONVEYOR_TESTDATA:-../shared}
prompt="Once upon a time, there was a little girl named Lily"
backend=cpu
keep=
while getopts p:b:k: opt; do
	case $opt in
	p) prompt=$OPTARG ;;
	b) backend=$OPTARG ;;
	k) keep=$OPTARG ;;
	*) sed -n '2,22p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
types=${*:-F32 Q8_0 Q4_K_M Q5_K_M Q6_K}
[ -f "$ORACLE/logits.mjs" ] && [ -d "$ORACLE/node_modules" ] ||
	{ echo "no oracle at $ORACLE: install it (../shared/oracle/README.md) or set ORACLE" >&2; exit 1; }
vocab=$TESTDATA/tokenizer-tests/llamacpp/ggml-vocab-llama-spm.gguf
[ -f "$vocab" ] || { echo "no $vocab: set CONVEYOR_TESTDATA" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dir=${keep:-$tmp}
mkdir -p "$dir"
go build -o "$tmp/conveyor" ./cmd/conveyor
# logits.mjs at log level debug (to see llama.cpp's load_tensors lines), in a
# folder whose node_modules is the oracle's.
mkdir "$tmp/oracle"
ln -s "$(cd "$ORACLE" && pwd)/node_modules" "$tmp/oracle/node_modules"
cp "$ORACLE/package.json" "$tmp/oracle/"
sed 's/logLevel: LlamaLogLevel.error/logLevel: LlamaLogLevel.debug/' "$ORACLE/logits.mjs" >"$tmp/oracle/logits.mjs"

if [ ! -f "$dir/F32.gguf" ]; then
	"$tmp/conveyor" synth --dim 768 --layers 12 --heads 12 --ffn 2048 --vocab-from "$vocab" --type f32 -o "$dir/F32.gguf" >/dev/null 2>&1
fi
printf '%-8s %-14s %-6s %s\n' file max-diff top-1 "llama.cpp buffers"
for t in $types; do
	m=$dir/$t.gguf
	[ -f "$m" ] || "$tmp/conveyor" quantize "$dir/F32.gguf" "$m" "$t" >/dev/null 2>&1
	node "$tmp/oracle/logits.mjs" "$m" --prompt "$prompt" -n 1 --top 10 --json >"$tmp/llama.out" 2>&1
	grep '^{' "$tmp/llama.out" | tail -1 >"$tmp/llama.json"
	buffers=$(grep -o 'load_tensors: *[A-Za-z_]* model buffer size = *[0-9.]* MiB' "$tmp/llama.out" |
		sed 's/load_tensors: *//; s/ model buffer size = */ /' | tr '\n' ' ')
	"$tmp/conveyor" run -m "$m" -p "$prompt" -n 1 --temp 0 --json --top-logits 200 --backend "$backend" 2>/dev/null >"$tmp/ours.json"
	node -e '
		const fs = require("fs");
		const llama = JSON.parse(fs.readFileSync(process.argv[1])).top_after_prompt;
		const ours = new Map(JSON.parse(fs.readFileSync(process.argv[2])).top_logits);
		let d = 0;
		for (const [id, v] of llama) d = Math.max(d, ours.has(id) ? Math.abs(ours.get(id) - v) : Infinity);
		const top1 = llama[0][0] === [...ours.keys()][0] ? "same" : "DIFF";
		console.log(process.argv[3].padEnd(8), d.toExponential(2).padEnd(14), top1.padEnd(6), process.argv[4]);
	' "$tmp/llama.json" "$tmp/ours.json" "$t" "$buffers"
done
