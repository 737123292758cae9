#!/bin/sh
# gpu-check.sh runs Conveyor's Vulkan checks on a machine with a real GPU,
# from the bundle scripts/gpu-bundle.sh built (gpu-bundle/, carried along; no
# Go toolchain or network needed there):
#   1. the op-level parity tests of backend/vulkan and cgo/vk, and the engine
#      tests, with the Khronos validation layer on (CONVEYOR_VK_VALIDATE=1);
#   2. a TinyLlama-shaped Q4_0 model made by `conveyor synth`, benchmarked with
#      `conveyor bench` on --backend vulkan and --backend cpu, as a table.
# Results also go to $OUT (when set) as gpu-check.log.
#   usage: scripts/gpu-check.sh [bundle-dir | gpu-bundle.tar.zst | gpu-bundle.tar.xz]
# It fits a 10-minute lease: the tests have a 300 s timeout each and the
# benchmarks are short (GPU_CHECK_BENCH_ARGS overrides the GPU's -p/-n/-r).
# GPU_CHECK_NO_BENCH=1 runs the tests only.
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
for t in "vk:cgo/vk:" "vulkan:backend/vulkan:" "engine:engine:-test.skip=TestArchitecturesMatchLlamaCpp" \
	"engine:engine:-test.run=TestArchitecturesMatchLlamaCpp/.*/($archs)$"; do
	name=${t%%:*} rest=${t#*:} dir=${rest%%:*} extra=${rest#*:}
	say "\$ (cd $dir && $name.test $extra)"
	if (cd "$dir" && "$B/bin/$name.test" -test.count=1 -test.v -test.timeout=300s $extra) >"$tmp" 2>&1; then
		res="ok: $name tests $extra"
	else
		res="FAIL: $name tests $extra"; status=1
	fi
	cat "$tmp" >>"$LOG"
	grep -E '^(--- |ok|FAIL|PASS|panic|Vulkan validation)|validation errors|vulkan (error|warning)|largest logit' "$tmp" | head -n 60
	say "$res"
done
unset CONVEYOR_VK_VALIDATE

if [ "${GPU_CHECK_NO_BENCH:-}" = 1 ]; then
	[ $status = 0 ] && say "gpu-check: tests passed (no benchmark)" || say "gpu-check: FAILED"
	rm -f "$tmp"
	exit $status
fi

say "== TinyLlama-shaped Q4_0 benchmark"
model=/tmp/tinyllama-q4_0.gguf
run "$B/bin/conveyor" synth --arch llama --dim 2048 --layers 22 --heads 32 --kv-heads 4 --ffn 5632 \
	--vocab-size 32000 --type q4_0 -o "$model" || status=1
bench() { # backend, then bench flags
	be=$1; shift
	"$B/bin/conveyor" bench -m "$model" --backend "$be" --json "$@" 2>>"$LOG"
}
sizes=${GPU_CHECK_BENCH_ARGS:--p 256 -n 64 -r 1} # the same on both, to fit the lease
vk=$(bench vulkan $sizes) || { say "FAIL: bench on vulkan"; status=1; }
cpu=$(bench cpu $sizes) || { say "FAIL: bench on cpu"; status=1; }
say "$vk"
say "$cpu"
say "== summary (tokens/s; TinyLlama shape, Q4_0)"
num() { echo "$1" | sed -n "s/.*\"$2\":\([0-9.eE+-]*\).*/\1/p"; }
pt() { echo "$1" | sed -n 's/.*"per_token":\({[^}]*}\).*/\1/p'; }
str() { echo "$1" | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"; }
printf '%-8s | %-32s | %-10s | %-10s\n' backend device prefill decode | tee -a "$LOG"
printf '%-8s | %-32s | %-10s | %-10s\n' vulkan "$(str "$vk" device | cut -c1-32)" "$(num "$vk" 'pp[0-9]*_tok_s')" "$(num "$vk" 'tg[0-9]*_tok_s')" | tee -a "$LOG"
printf '%-8s | %-32s | %-10s | %-10s\n' cpu "$(str "$cpu" device | cut -c1-32)" "$(num "$cpu" 'pp[0-9]*_tok_s')" "$(num "$cpu" 'tg[0-9]*_tok_s')" | tee -a "$LOG"
say "vulkan per decoded token: $(pt "$vk")"
rm -f "$tmp"
[ $status = 0 ] && say "gpu-check: all passed" || say "gpu-check: FAILED"
exit $status
