#!/bin/sh
# bench-vs-llamacpp.sh MODEL.gguf... : our `conveyor bench` and llama.cpp's
# (../shared/oracle's bench.mjs, installed as its README says) back to back on
# each file, same threads, prompt and generation lengths, and the ratios
# ours / llama.cpp. A development tool: speed on shared machines moves from
# run to run, so only the ratios of one run mean much.
#
#   ORACLE=/tmp/oracle THREADS=2 PP=512 TG=128 REPS=3 scripts/bench-vs-llamacpp.sh tl-q4_0.gguf ...
set -eu
ORACLE=${ORACLE:-/tmp/oracle}
THREADS=${THREADS:-2}
PP=${PP:-512}
TG=${TG:-128}
REPS=${REPS:-3}
BIN=${BIN:-$(mktemp -d)/conveyor}
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/conveyor
printf '%-24s %10s %10s %7s %10s %10s %7s %9s %9s\n' model ours_pp llama_pp ratio ours_tg llama_tg ratio ours_rss llama_rss
for m in "$@"; do
	ours=$("$BIN" bench -m "$m" -t "$THREADS" -p "$PP" -n "$TG" -r "$REPS" --backend cpu --json 2>/dev/null)
	theirs=$(node "$ORACLE/bench.mjs" "$m" --threads "$THREADS" --pp "$PP" --tg "$TG" --reps "$REPS" 2>/dev/null | tail -1)
	get() { printf '%s' "$1" | sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p"; }
	op=$(get "$ours" "pp${PP}_tok_s"); ot=$(get "$ours" "tg${TG}_tok_s"); orss=$(get "$ours" peak_rss_mb)
	lp=$(get "$theirs" "pp${PP}_tok_s"); lt=$(get "$theirs" "tg${TG}_tok_s"); lrss=$(get "$theirs" peak_rss_mb)
	awk -v m="$(basename "$m")" -v op="$op" -v lp="$lp" -v ot="$ot" -v lt="$lt" -v orss="$orss" -v lrss="$lrss" \
		'BEGIN { printf "%-24s %10.1f %10.1f %7.2f %10.1f %10.1f %7.2f %9.0f %9.0f\n", m, op, lp, op/lp, ot, lt, ot/lt, orss, lrss }'
done
