#!/bin/sh
# gpu-bundle.sh builds, here, everything scripts/gpu-check.sh needs on a GPU
# machine that has no Go toolchain and no network, into gpu-bundle/ (kept out
# of git through .git/info/exclude):
#   gpu-bundle/bin/     vulkan.test, vk.test, engine.test, cudabackend.test, cudadriver.test
#                       (go test -c) and conveyor
#   gpu-bundle/nvrtc/   this machine's libnvrtc (Debian's libnvrtc11.2), when it has one:
#                       the CUDA backend's compiler where the GPU machine has no other
#   gpu-bundle/root/    libvulkan1 and vulkan-validationlayers, unpacked with dpkg-deb -x
#                       (the binaries dlopen libvulkan.so.1; gpu-check.sh puts this
#                       loader first on LD_LIBRARY_PATH, for machines without one)
#   gpu-bundle/testdata/ the small models and expected outputs the engine tests read
# and packs it into gpu-bundle.tar.zst (or .tar.xz without zstd), under 48 MiB.
# Then carry it to the machine and run scripts/gpu-check.sh there.
set -eu
cd "$(dirname "$0")/.."
. scripts/gpu-archs.sh
out=gpu-bundle
exclude=$(git rev-parse --git-path info/exclude)
grep -qx '/gpu-bundle/' "$exclude" 2>/dev/null || echo '/gpu-bundle/' >>"$exclude"
rm -rf "$out"
mkdir -p "$out/bin" "$out/debs" "$out/root"

# x86-64 Linux binaries (the GPU machines are x86-64), stripped to keep the
# carried folder small.
export GOOS=linux GOARCH=amd64 CGO_ENABLED=1
flags="-trimpath -ldflags=-s -ldflags=-w"
go test -c $flags -o "$out/bin/vulkan.test" ./backend/vulkan
go test -c $flags -o "$out/bin/vk.test" ./cgo/vk
go test -c $flags -o "$out/bin/engine.test" ./engine
go test -c $flags -o "$out/bin/cudabackend.test" ./backend/cuda
go test -c $flags -o "$out/bin/cudadriver.test" ./cgo/cuda
go build $flags -o "$out/bin/conveyor" ./cmd/conveyor

# NVRTC for the CUDA backend (the GPU machine's PyTorch usually has its own;
# the backend takes the newest the driver reads). Only the builtins' soname
# (libnvrtc-builtins.so.MAJOR.MINOR), which NVRTC opens, is carried.
nvrtc=$(ldconfig -p 2>/dev/null | sed -n 's/.*libnvrtc\.so\.[0-9.]* .*=> \(.*\)/\1/p' | head -n 1)
if [ -n "$nvrtc" ] && [ -z "${GPU_BUNDLE_NO_NVRTC:-}" ]; then
	mkdir -p "$out/nvrtc"
	cp -L "$nvrtc" "$out/nvrtc/"
	for f in "$(dirname "$nvrtc")"/libnvrtc-builtins.so.*; do
		case $f in *.so.*.*.*) continue ;; esac
		[ -f "$f" ] && cp -L "$f" "$out/nvrtc/"
	done
fi

# The engine tests' data (a few MB), from CONVEYOR_TESTDATA or ../shared.
shared=${CONVEYOR_TESTDATA:-../shared}
mkdir -p "$out/testdata/models"
cp "$shared"/models/stories260K.gguf "$shared"/models/stories260K-q8_0.gguf "$out/testdata/models/"
cp -r "$shared/models/expected" "$out/testdata/models/"
# The vocabulary gpu-check.sh's TinyLlama-shaped model copies.
mkdir -p "$out/testdata/tokenizer-tests/llamacpp"
cp "$shared/tokenizer-tests/llamacpp/ggml-vocab-llama-spm.gguf" "$out/testdata/tokenizer-tests/llamacpp/"
# Three of the architecture models (all nine would not fit the 64 MiB carried):
# the ones with sliding windows, soft-caps, q/k norms and learned positions.
mkdir -p "$out/testdata/arch/expected"
for a in $GPU_ARCHS; do
	cp "$shared/arch/$a.gguf" "$out/testdata/arch/"
	cp "$shared/arch/expected/$a.once-upon-a-time.json" "$out/testdata/arch/expected/"
done

# The Vulkan loader and the Khronos validation layer, as .deb contents. The
# amd64 options make this work from a machine of another architecture too.
apt="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64"
if ! (cd "$out/debs" && apt-get $apt download libvulkan1 vulkan-validationlayers); then
	echo "gpu-bundle: apt-get download failed; try: apt-get update" >&2
	exit 1
fi
for f in "$out"/debs/*.deb; do
	dpkg-deb -x "$f" "$out/root"
done
rm -rf "$out/debs" "$out/root/usr/share/doc" "$out/root/usr/share/lintian"
# The validation layer's debug sections are most of its size; the checks need
# only its code.
if command -v strip >/dev/null 2>&1; then
	find "$out/root" -name '*.so*' -type f -exec strip --strip-debug {} +
fi
du -sh "$out"

# One compressed file to carry (under 48 MiB): zstd where there is one, else xz.
rm -f gpu-bundle.tar.zst gpu-bundle.tar.xz
if command -v zstd >/dev/null 2>&1; then
	tar -cf - "$out" | zstd -q -19 -T0 -o gpu-bundle.tar.zst
	pack=gpu-bundle.tar.zst
else
	tar -cf - "$out" | xz -9 -T0 >gpu-bundle.tar.xz
	pack=gpu-bundle.tar.xz
fi
grep -qx "/$pack" "$exclude" 2>/dev/null || echo "/$pack" >>"$exclude"
size=$(wc -c <"$pack")
echo "gpu-bundle: $pack, $((size / 1024 / 1024)) MiB"
if [ "$size" -ge $((48 * 1024 * 1024)) ]; then
	echo "gpu-bundle: $pack is over 48 MiB" >&2
	exit 1
fi
echo "gpu-bundle: done; carry $pack (or gpu-bundle/) and run scripts/gpu-check.sh [$pack] on the GPU machine"
