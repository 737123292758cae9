#!/bin/sh
# build.sh compiles every shaders/NAME.comp into shaders/NAME.spv with glslc.
#   shaders/build.sh          rebuild the committed .spv files in place
#   shaders/build.sh check    rebuild into a temporary folder and fail if any
#                             committed .spv differs (or is missing/extra)
set -eu
cd "$(dirname "$0")"
GLSLC=${GLSLC:-glslc}
FLAGS="--target-env=vulkan1.2 -O -I ."
mode=${1:-build}
case $mode in
build) out=. ;;
check) out=$(mktemp -d); trap 'rm -rf "$out"' EXIT ;;
*) echo "usage: $0 [check]" >&2; exit 2 ;;
esac
for src in *.comp; do
	name=${src%.comp}
	$GLSLC $FLAGS "$src" -o "$out/$name.spv"
	if command -v spirv-val >/dev/null 2>&1; then
		spirv-val --target-env vulkan1.2 "$out/$name.spv"
	fi
done
if [ "$mode" = check ]; then
	status=0
	for spv in "$out"/*.spv; do
		name=$(basename "$spv")
		if ! cmp -s "$spv" "$name"; then
			echo "shaders/$name is stale: run shaders/build.sh" >&2
			status=1
		fi
	done
	for spv in *.spv; do
		[ -e "$out/$spv" ] || { echo "shaders/$spv has no .comp source" >&2; status=1; }
	done
	exit $status
fi
