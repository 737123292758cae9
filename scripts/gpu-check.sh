#!/bin/sh
# gpu-check.sh runs Conveyor's GPU checks on a machine with a real GPU,
# from the bundle scripts/gpu-bundle.sh built (gpu-bundle/, carried along; no
# Go toolchain or network needed there):
#   1. the op-level parity tests of backend/vulkan and cgo/vk, and the engine
#      tests, with the Khronos validation layer on (CONVEYOR_VK_VALIDATE=1);
#   2. the CUDA tests (cgo/cuda, backend/cuda, the engine's TestCUDA*), with
#      NVRTC the newest the driver reads: PyTorch's pip copy or the bundle's;
#   3. a TinyLlama-shaped Q4_0 model (`conveyor synth` F16 with the Llama
#      vocabulary, then `conveyor quantize --pure` to Q4_0), benchmarked with
#      `conveyor bench` on cpu, vulkan and cuda, beside transformers' fp16
#      decode of the same shape where PyTorch is installed, as one table.
# Results also go to $OUT (when set) as gpu-check.log.
#   usage: scripts/gpu-check.sh [bundle-dir | gpu-bundle.tar.zst | gpu-bundle.tar.xz]
# It fits a 10-minute lease: the tests have a 300 s timeout each and the
# benchmarks are short (GPU_CHECK_BENCH_ARGS overrides the GPU's -p/-n/-r).
# GPU_CHECK_NO_BENCH=1 runs the tests only; GPU_CHECK_ONLY=cuda skips the
# Vulkan tests and benchmark (for a machine without the NVIDIA Vulkan driver).
set -u
cd "$(dirname "$0")/.."
bundle=${1:-gpu-bundle}
if [ ! -d "$bundle" ] && [ -z "${1:-}" ]; then
	for f in gpu-bundle.tar.zst gpu-bundle.tar.xz; do
		if [ -f "$f" ]; then bundle=$f; break; fi
	done
fi
case $bundle in
*.tar.zst | *.tar.xz) # unpack the carried file into a temporary folder
	unpacked=$(mktemp -d)
	trap 'rm -rf "$unpacked"' EXIT
	case $bundle in
	*.zst) zstd -dc "$bundle" | tar -xf - -C "$unpacked" ;;
	*) xz -dc "$bundle" | tar -xf - -C "$unpacked" ;;
	esac || { echo "gpu-check: cannot unpack $bundle" >&2; exit 2; }
	bundle=$unpacked/gpu-bundle
	;;
esac
B=$(cd "$bundle" && pwd) || { echo "gpu-check: no bundle; run scripts/gpu-bundle.sh first" >&2; exit 2; }
LOG=${OUT:-/tmp}/gpu-check.log
: >"$LOG"
say() { echo "$*" | tee -a "$LOG"; }
tmp=$(mktemp)
# run prints and logs a command and its output, keeping its exit status.
run() {
	say "\$ $*"
	"$@" >"$tmp" 2>&1
	rc=$?
	tee -a "$LOG" <"$tmp"
	return $rc
}

# The carried loader and layer; the host's driver (ICD). The binaries dlopen
# libvulkan.so.1, which dlopen looks for on LD_LIBRARY_PATH first.
libdir=$B/root/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export VK_LAYER_PATH="$B/root/usr/share/vulkan/explicit_layer.d"
export VK_ADD_LAYER_PATH="$VK_LAYER_PATH"
icd=
for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
	/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.x86_64.json; do
	if [ -f "$f" ]; then icd=$f; break; fi
done
if [ -n "$icd" ]; then
	export VK_ICD_FILENAMES="$icd" VK_DRIVER_FILES="$icd"
	say "gpu-check: driver $icd"
else
	say "gpu-check: no NVIDIA ICD json found; using the loader's default search"
fi
export CONVEYOR_VK_VALIDATE=1
export CONVEYOR_TESTDATA="$B/testdata"
status=0

run "$B/bin/conveyor" devices || status=1

say "== tests (validation on)"
. scripts/gpu-archs.sh
archs=$(echo $GPU_ARCHS | tr ' ' '|')
# name:dir:extra test flags; the engine's architecture tests run for the
# architectures the bundle carries.
# NVRTC for the CUDA backend: the backend takes the newest it finds that the
# driver reads (PyTorch's pip copy is often newer than the driver); the
# bundle's Debian libnvrtc 11.8, whose PTX any newer driver reads, is one of
# the candidates. GPU_CHECK_NVRTC names one to use instead.
if [ -d "$B/nvrtc" ]; then
	export LD_LIBRARY_PATH="$B/nvrtc:$LD_LIBRARY_PATH"
fi
if [ -n "${GPU_CHECK_NVRTC:-}" ]; then
	export CONVEYOR_NVRTC_LIBRARY="$GPU_CHECK_NVRTC" LD_LIBRARY_PATH="$(dirname "$GPU_CHECK_NVRTC"):$LD_LIBRARY_PATH"
fi
export CONVEYOR_CUDA_CACHE=$(mktemp -d) # compile afresh: the check includes NVRTC

tests="cudadriver:cgo/cuda: cudabackend:backend/cuda: engine:engine:-test.run=TestCUDA"
if [ "${GPU_CHECK_ONLY:-}" != cuda ]; then
	tests="vk:cgo/vk: vulkan:backend/vulkan: engine:engine:-test.skip=TestArchitecturesMatchLlamaCpp|TestCUDA \
engine:engine:-test.run=TestArchitecturesMatchLlamaCpp/.*/($archs)$ $tests"
fi
for t in $tests; do
	name=${t%%:*} rest=${t#*:} dir=${rest%%:*} extra=${rest#*:}
	say "\$ (cd $dir && $name.test $extra)"
	if (cd "$dir" && "$B/bin/$name.test" -test.count=1 -test.v -test.timeout=300s $extra) >"$tmp" 2>&1; then
		res="ok: $name tests $extra"
	else
		res="FAIL: $name tests $extra"; status=1
	fi
	cat "$tmp" >>"$LOG"
	grep -E '^(--- |ok|FAIL|PASS|panic|Vulkan validation)|validation errors|vulkan (error|warning)|largest logit|no CUDA|SKIP|GB/s|NVRTC [0-9]' "$tmp" | head -n 60
	say "$res"
done
unset CONVEYOR_VK_VALIDATE

if [ "${GPU_CHECK_NO_BENCH:-}" = 1 ]; then
	[ $status = 0 ] && say "gpu-check: tests passed (no benchmark)" || say "gpu-check: FAILED"
	rm -f "$tmp"
	exit $status
fi

say "== TinyLlama-shaped Q4_0 benchmark"
f16=/tmp/tinyllama-f16.gguf
model=/tmp/tinyllama-q4_0.gguf
run "$B/bin/conveyor" synth --dim 2048 --layers 22 --heads 32 --kv-heads 4 --ffn 5632 \
	--vocab-from "$B/testdata/tokenizer-tests/llamacpp/ggml-vocab-llama-spm.gguf" --type f16 --pool 64 -o "$f16" || status=1
# --pure: every matrix Q4_0 (the default mix makes the output Q6_K).
run "$B/bin/conveyor" quantize --pure "$f16" "$model" Q4_0 || status=1
rm -f "$f16"
bench() { # backend, then bench flags
	be=$1; shift
	"$B/bin/conveyor" bench -m "$model" --backend "$be" --json "$@" 2>>"$LOG"
}
sizes=${GPU_CHECK_BENCH_ARGS:--p 256 -n 64 -r 1} # the same on every backend, to fit the lease
cu=$(bench cuda $sizes) || { say "FAIL: bench on cuda"; status=1; }
vk=
if [ "${GPU_CHECK_ONLY:-}" != cuda ]; then
	vk=$(bench vulkan $sizes) || { say "FAIL: bench on vulkan"; status=1; }
fi
cpu=$(bench cpu $sizes) || { say "FAIL: bench on cpu"; status=1; }
say "$cu"
say "$vk"
say "$cpu"

# transformers, fp16, the same shape with random weights: prefill 256, then
# 64 greedy decode steps with its KV cache (eager, batch 1).
pt=
if python3 -c 'import torch, transformers; assert torch.cuda.is_available()' 2>/dev/null; then
	pt=$(timeout 240 python3 - <<'PY' 2>>"$LOG"
import json, time, torch
from transformers import LlamaConfig, LlamaForCausalLM
cfg = LlamaConfig(hidden_size=2048, num_hidden_layers=22, num_attention_heads=32, num_key_value_heads=4,
                  intermediate_size=5632, vocab_size=32000, max_position_embeddings=2048)
torch.manual_seed(0)
torch.set_default_dtype(torch.float16)
with torch.device("cuda"):
    m = LlamaForCausalLM(cfg).eval()
ids = torch.randint(0, 32000, (1, 256), device="cuda")
def run(n):
    out = m(ids, use_cache=True)
    past, tok = out.past_key_values, out.logits[:, -1:].argmax(-1)
    torch.cuda.synchronize(); t0 = time.time()
    for _ in range(n):
        out = m(tok, past_key_values=past, use_cache=True)
        past, tok = out.past_key_values, out.logits[:, -1:].argmax(-1)
    torch.cuda.synchronize()
    return time.time() - t0
with torch.no_grad():
    run(4)  # warm up
    torch.cuda.synchronize(); t0 = time.time(); m(ids); torch.cuda.synchronize(); pp = time.time() - t0
    tg = run(64)
print(json.dumps({"device": torch.cuda.get_device_name(0), "pp256_tok_s": 256 / pp, "tg64_tok_s": 64 / tg}).replace(" ", ""))
PY
) || say "transformers benchmark failed (see $LOG)"
	say "$pt"
else
	say "gpu-check: no PyTorch with CUDA here: no transformers row"
fi

say "== summary (tokens/s; TinyLlama shape, Q4_0; transformers fp16)"
num() { echo "$1" | sed -n "s/.*\"$2\":\([0-9.eE+-]*\).*/\1/p"; }
pertok() { echo "$1" | sed -n 's/.*"per_token":\({[^}]*}\).*/\1/p'; }
str() { echo "$1" | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"; }
row() { printf '%-13s | %-32s | %-10s | %-10s\n' "$1" "$(str "$2" device | cut -c1-32)" "$(num "$2" 'pp[0-9]*_tok_s')" "$(num "$2" 'tg[0-9]*_tok_s')" | tee -a "$LOG"; }
printf '%-13s | %-32s | %-10s | %-10s\n' backend device prefill decode | tee -a "$LOG"
row cuda "$cu"
[ -n "$vk" ] && row vulkan "$vk"
row cpu "$cpu"
[ -n "$pt" ] && row "torch fp16" "$pt"
# Decode against the memory-bandwidth ceiling: the weights are read once a token.
bw=$("$B/bin/conveyor" devices --json 2>/dev/null | sed -n 's/.*"backend":"cuda"[^}]*"bandwidth_gbs":\([0-9.]*\).*/\1/p' | head -n 1)
tg=$(num "$cu" 'tg[0-9]*_tok_s')
if [ -n "$bw" ] && [ -n "$tg" ]; then
	bytes=$(wc -c <"$model")
	mb=$(num "$cu" weights_mb_per_token)
	[ -n "$mb" ] && bytes=$(awk -v m="$mb" 'BEGIN { printf "%.0f", m * 1048576 }')
	awk -v b="$bytes" -v t="$tg" -v w="$bw" 'BEGIN { printf "cuda decode: %.0f GB/s of a %.0f GB/s ceiling (%.0f%%)\n", b*t/1e9, w, 100*b*t/1e9/w }' | tee -a "$LOG"
fi
say "cuda per decoded token: $(pertok "$cu")"
[ -n "$vk" ] && say "vulkan per decoded token: $(pertok "$vk")"
rm -f "$tmp" "$model"
[ $status = 0 ] && say "gpu-check: all passed" || say "gpu-check: FAILED"
exit $status
