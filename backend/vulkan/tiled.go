package vulkan

import (
	"fmt"
	"os"
	"strings"

	"github.com/conveyor-llm/conveyor/backend"
)

// The prefill matmul tiled through shared memory (shaders/matmul_tiled.glsl):
// a workgroup (tiledTile.wg invocations) stages the quantized activations of
// tiledTile.cols rows of x in shared memory and each of its subgroups
// computes tiledTile.rows weight rows against all of them. Every output is
// bit-identical to the mat-vec's (matmul.glsl) on the same device, for any n
// (TestMatMulTiledBitIdentical), so which kernel runs changes speed only.
// With subgroup reductions that rests on both shaders running with the
// subgroup size the device reports, subgroup g holding invocations g*size
// on: true on lavapipe and fixed-size GPUs; a device that varies its
// subgroup size per pipeline would need it pinned (requiredSubgroupSize).
//
// VK_KHR_cooperative_matrix is not used: lavapipe does not expose it, so no
// test here could run it, and its accumulation order is the hardware's, not
// the mat-vec's fixed leaf order, which would break batch invariance unless
// every n (decode included) went through it.

// TiledEnv names the environment variable that picks the prefill matmul:
// 1 the tiled kernel for every quantized matmul (every n, so tests cover it
// on any device), 0 never; unset, the device's default (tiledMinRows).
const TiledEnv = "CONVEYOR_VK_TILED"

// Tiled matmul modes (Options.Tiled).
const (
	TiledDefault = iota // the device's choice
	TiledAlways         // every quantized matmul
	TiledNever          // never
)

// tiledTile is the tiled kernel's workgroup: rows weight rows per
// subgroup, cols rows of x, wg invocations.
type tiledTile struct{ rows, cols, wg uint32 }

// The tiles: on GPUs 256 invocations share the staged x; on CPU devices a
// workgroup is one core's, and 64 keep its loops short.
var (
	tiledTileGPU = tiledTile{2, 8, 256}
	tiledTileCPU = tiledTile{2, 8, 64}
)

// tiledLanesShared is the lane count of the shared-memory reduction.
const tiledLanesShared = 8

func (b *Backend) tiledTileFor() tiledTile {
	switch {
	case b.tiledTile != (tiledTile{}):
		return b.tiledTile
	case b.info.Type == "cpu":
		return tiledTileCPU
	}
	return tiledTileGPU
}

// tiledMinRows is the least n (rows of x) the tiled kernel takes by
// default: on GPUs every prefill batch its tile fills; on CPU devices
// (lavapipe) none, it measured no faster there (README).
func (b *Backend) tiledMinRows() int {
	if b.info.Type == "cpu" {
		return 0
	}
	return int(tiledTileGPU.cols)
}

func init() {
	for _, name := range []string{"matmul_tiled", "matmul_tiled_sg", "matmul_tiled_dot", "matmul_tiled_sg_dot"} {
		shaderLayouts[name] = shaderLayouts["matmul"]
	}
}

// tiledMode reads TiledEnv over the option.
func tiledMode(o Options) int {
	switch os.Getenv(TiledEnv) {
	case "1":
		return TiledAlways
	case "0":
		return TiledNever
	}
	return o.Tiled
}

// tiledLanes is the leaves one subgroup of the tiled kernel holds: the
// subgroup size with subgroup reductions (it must divide 64, as the
// mat-vec's subgroups tile its 64 invocations), else 8; 0 if the tiled
// kernel cannot match the mat-vec here.
func (b *Backend) tiledLanes() uint32 {
	if !strings.Contains(b.matmul, "_sg") {
		return tiledLanesShared
	}
	s := b.info.SubgroupSize
	if s < 1 || s > 64 || 64%s != 0 {
		return 0
	}
	return uint32(s)
}

// useTiled reports whether a matmul of w with n rows of x takes the tiled
// kernel.
func (b *Backend) useTiled(w backend.Tensor, n int) bool {
	if !isQuant(w.Type) || b.tiled == TiledNever || b.tiledLanes() == 0 {
		return false
	}
	if b.tiled == TiledAlways {
		return true
	}
	min := b.tiledMinRows()
	return min > 0 && n >= min
}

// matMulTiled records MatMul through the tiled kernel; x is quantized in
// xv (the quants, scales and sums at qs, ds, ss).
func (b *Backend) matMulTiled(dst, w backend.Tensor, xv, dv view, qs, ds, ss uint32) {
	n, m, k := dst.Rows, w.Rows, w.Cols
	lanes, tile := b.tiledLanes(), b.tiledTileFor()
	wgRows := int(tile.wg / lanes * tile.rows)
	if n > 65535*int(tile.cols) {
		panic(fmt.Sprintf("vulkan: MatMul: %d rows of x", n))
	}
	name := strings.Replace(b.matmul, "matmul", "matmul_tiled", 1)
	rowBytes := w.RowBytes()
	per := min(b.rowsPerWindow("MatMul", rowBytes), 65535*wgRows)
	for lo := 0; lo < m; lo += per {
		hi := min(m, lo+per)
		wv := b.bindRange(w, int64(lo)*rowBytes, int64(hi-lo)*rowBytes)
		spec := [7]uint32{uint32(w.Type), tile.rows, tile.cols, 0, weightLayout(w, wv), lanes, tile.wg}
		p := b.pipeline(name, spec[:]...)
		pc := push{}.u(uint32(wv.skip), uint32(rowBytes), uint32(hi-lo), uint32(k), uint32(n), 0, qs, ds, ss,
			dv.words()+uint32(lo), uint32(m))
		views := []view{wv, xv, xv, dv, dv, dv, dv, dv, dv}
		barriers := b.stats.Barriers
		b.dispatch(p, views, []int{3}, pc, ceil(hi-lo, wgRows), ceil(n, int(tile.cols)))
		if lo == 0 && hi == m {
			b.noteMatMul(views, pc, [5]uint32(spec[:5]), n, m, b.stats.Barriers > barriers)
			if b.fuse.matmul != nil {
				b.fuse.matmul.shader, b.fuse.matmul.lanes, b.fuse.matmul.wg = name, lanes, tile.wg
			}
		}
	}
}
