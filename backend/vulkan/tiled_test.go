package vulkan

import (
	"fmt"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// tiledShapes are shapes for the tiled kernel at weight block size bs: rows
// that fill no workgroup, n below, at and across its 8 columns, and k with
// fewer than 64 units (some leaves empty), exactly 64, and more (a leaf sums
// two or three units).
func tiledShapes(bs int) []struct{ m, k, n int } {
	if bs == 256 {
		return []struct{ m, k, n int }{{1, 256, 1}, {37, 768, 3}, {19, 2048, 8}, {21, 4864, 9}}
	}
	return []struct{ m, k, n int }{{1, 96, 1}, {37, 32 * 37, 3}, {19, 2048, 8}, {21, 32 * 131, 9}}
}

// The tiled kernel's outputs are bit-identical to the mat-vec's (the
// default tiles, and decode's one row at a time) for every quantized type,
// each reduction variant, packed and ggml layouts, on fresh random inputs
// with outputs poisoned first (with n = 1, 3, 8 and 9 rows of x and k of
// fewer, exactly and more than 64 units); and within matmulTol of the CPU (as
// TestMatMulAwkwardShapes: only the F32 sums of per-block terms differ).
func TestMatMulTiledBitIdentical(t *testing.T) {
	types := append(append([]gguf.Type(nil), allWeightTypes...), kWeightTypes...)
	for _, o := range matmulVariants {
		e := newEnv(t, o)
		if e.vk.tiledLanes() == 0 {
			t.Logf("%s: subgroup size %d: no tiled kernel", e.vk.matmul, e.vk.info.SubgroupSize)
			continue
		}
		for _, typ := range types {
			if !isQuant(typ) {
				continue
			}
			for _, sh := range tiledShapes(typ.BlockSize()) {
				// ggml's layout too, on the first variant's larger shapes.
				layouts := []bool{true}
				if o == matmulVariants[0] && sh.n > 1 {
					layouts = append(layouts, false)
				}
				for _, packed := range layouts {
					w := e.weight(typ, sh.m, sh.k)
					if !packed {
						w = e.rawWeight(typ, sh.m, sh.k)
					}
					x := e.f32(sh.n, sh.k, 1)
					dst := e.alloc(gguf.TypeF32, sh.n, sh.m)
					what := fmt.Sprintf("%s: MatMul %v m=%d k=%d n=%d packed=%v", e.vk.matmul, typ, sh.m, sh.k, sh.n, packed)
					run := func(mode int) []byte {
						e.poison(dst)
						e.vk.tiled = mode
						e.vk.MatMul(dst.g, w.g, x.g)
						e.vk.tiled = TiledDefault
						got, _ := e.read(dst)
						return got
					}
					tiled := run(TiledAlways)
					e.cpu.MatMul(dst.c, w.c, x.c)
					e.check(what+" tiled", dst, matmulTol)
					if matvec := run(TiledNever); string(matvec) != string(tiled) {
						t.Errorf("%s: tiled and mat-vec differ", what)
					}
					// Decode: the first and last rows alone through the mat-vec.
					one := e.alloc(gguf.TypeF32, 1, sh.m)
					rb := 4 * sh.m
					for _, c := range []int{0, sh.n - 1} {
						e.poison(one)
						e.vk.tiled = TiledNever
						e.vk.MatMul(one.g, w.g, x.g.Slice(c, c+1))
						e.vk.tiled = TiledDefault
						got, _ := e.read(one)
						if string(got) != string(tiled[c*rb:(c+1)*rb]) {
							t.Errorf("%s: row %d decoded alone differs from the tiled batch", what, c)
							break
						}
					}
				}
			}
		}
	}
}

// A row's tiled output does not depend on how the prompt is chunked: rows
// 0..n computed as one batch and as batches of 5 and n-5 agree bit for bit.
func TestMatMulTiledChunking(t *testing.T) {
	for _, o := range []Options{{Tiled: TiledAlways}, {Tiled: TiledAlways, NoSubgroups: true}} {
		e := newEnv(t, o)
		for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
			m, k, n := 67, 2304, 21
			w := e.weight(typ, m, k)
			x := e.f32(n, k, 1)
			whole := e.alloc(gguf.TypeF32, n, m)
			e.poison(whole)
			e.vk.MatMul(whole.g, w.g, x.g)
			want, _ := e.read(whole)
			parts := e.alloc(gguf.TypeF32, n, m)
			e.poison(parts)
			e.vk.MatMul(parts.g.Slice(0, 5), w.g, x.g.Slice(0, 5))
			e.vk.MatMul(parts.g.Slice(5, n), w.g, x.g.Slice(5, n))
			if got, _ := e.read(parts); string(got) != string(want) {
				t.Errorf("%s %v: chunks 5+%d differ from one batch of %d", e.vk.matmul, typ, n-5, n)
			}
		}
	}
}

// tiledTilesTried are tiled-kernel tiles the tests and the benchmark compare.
var tiledTilesTried = []tiledTile{tiledTileCPU, tiledTileGPU, {4, 8, 64}, {1, 16, 128}, {4, 16, 64}, {1, 4, 32}}

// The tiled kernel's tile changes no output bit, for each reduction.
func TestMatMulTiledTilesBitIdentical(t *testing.T) {
	for _, o := range []Options{{Tiled: TiledAlways}, {Tiled: TiledAlways, NoSubgroups: true}} {
		e := newEnv(t, o)
		for _, typ := range []gguf.Type{gguf.TypeQ4_1, gguf.TypeQ5_K} {
			m, k, n := 53, 2304, 19
			w := e.weight(typ, m, k)
			x := e.f32(n, k, 1)
			dst := e.alloc(gguf.TypeF32, n, m)
			var first []byte
			for _, tile := range tiledTilesTried {
				if tile.wg%e.vk.tiledLanes() != 0 {
					continue
				}
				e.poison(dst)
				e.vk.tiledTile = tile
				e.vk.MatMul(dst.g, w.g, x.g)
				got, _ := e.read(dst)
				if first == nil {
					first = got
				} else if string(got) != string(first) {
					t.Errorf("%s %v: tile %v differs from %v", e.vk.matmul, typ, tile, tiledTilesTried[0])
				}
			}
			e.vk.tiledTile = tiledTile{}
		}
	}
}

// BenchmarkMatMulTiled times prefill (n=128) matmuls of the 110M shape
// through the mat-vec's default tile ("matvec") and the tiled kernel's
// tiles, in process CPU time per matmul (as BenchmarkMatMulTiles).
func BenchmarkMatMulTiled(b *testing.B) {
	shapes := []struct{ m, k int }{{768, 768}, {2048, 768}, {768, 2048}}
	const n = 128
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		for _, sh := range shapes {
			e := newEnv(&testing.T{}, Options{})
			w := e.weight(typ, sh.m, sh.k)
			x := e.f32(n, sh.k, 1)
			dst := e.alloc(gguf.TypeF32, n, sh.m)
			out := make([]byte, dst.g.Bytes())
			for _, tile := range append([]tiledTile{{}}, tiledTilesTried...) {
				name := "matvec"
				if tile != (tiledTile{}) {
					name = fmt.Sprintf("tiled=%d,%d,%d", tile.rows, tile.cols, tile.wg)
				}
				b.Run(fmt.Sprintf("%v/%dx%d/%s", typ, sh.m, sh.k, name), func(b *testing.B) {
					e.vk.tiled, e.vk.tiledTile = TiledNever, tile
					if tile != (tiledTile{}) {
						e.vk.tiled = TiledAlways
					}
					run := func() {
						for i := 0; i < 2; i++ {
							e.vk.MatMul(dst.g, w.g, x.g)
							e.vk.noteWrite(e.vk.bind(x.g).span)
						}
						if err := e.vk.Read(dst.g, out); err != nil {
							b.Fatal(err)
						}
					}
					reportCPUPerOp(b, run, 2, "cpu-µs/matmul")
				})
			}
			e.vk.Close()
		}
	}
}
