package kernels

import (
	"golang.org/x/sys/cpu"

	"github.com/conveyor-llm/conveyor/gguf"
)

// Assembly kernels for packed Q8_0/Q4_0 weights (packed_amd64.s): one
// activation row against 16 weight rows with AVX-512 VNNI (decode), and 16
// activation rows against 16 weight rows with AMX tiles (prefill). Each gives
// packedRowGo's bits.

//go:noescape
func packedQ8_0RowVNNI(group *byte, nb int, a *byte, d *float32, c *int32, out *float32)

//go:noescape
func packedQ4_0RowVNNI(group *byte, nb int, a *byte, d *float32, c *int32, out *float32)

//go:noescape
func packedQ8_0RowAVX2(group *byte, nb int, a *byte, d *float32, c *int32, out *float32)

//go:noescape
func packedQ4_0RowAVX2(group *byte, nb int, a *byte, d *float32, c *int32, out *float32)

//go:noescape
func packedS8TileAMX(cfg *byte, group *byte, nb int, a *byte, astride int, d *float32, scratch *byte, out *float32, ostride int)

//go:noescape
func packedQ8_0Rows4VNNI(group *byte, nb int, a *byte, astride int, d *float32, c *int32, tstride int, out *float32, ostride int)

//go:noescape
func packedQ4_0Rows4VNNI(group *byte, nb int, a *byte, astride int, d *float32, c *int32, tstride int, out *float32, ostride int)

//go:noescape
func expandQ8_0AVX512(group *byte, nb int, dst *byte)

//go:noescape
func quantizePackedAVX512(x *float32, nb int, q *byte, d *float32, c *int32, shift int)

//go:noescape
func expandQ4_0AVX512(group *byte, nb int, dst *byte)

// hasAVX512VNNI is 512-bit VPDPBUSD with the AVX-512 basics the row kernels use.
var hasAVX512VNNI = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VNNI && cpu.X86.HasF16C

// amxTileConfig is LDTILECFG's 64 bytes: palette 1; tmm0, tmm1 the int32
// sums (16 rows of 64 bytes), tmm2, tmm3 the activations (16 rows of one
// 32-byte block), tmm4, tmm5 the expanded weights (8 lines of 64 bytes).
var amxTileConfig = func() (cfg [64]byte) {
	cfg[0] = 1
	colsb := [6]int{64, 64, 32, 32, 64, 64}
	rows := [6]byte{16, 16, 16, 16, 8, 8}
	for i := range colsb {
		cfg[16+2*i] = byte(colsb[i])
		cfg[48+i] = rows[i]
	}
	return cfg
}()

// packedRowAVX2 is packedRow for machines with AVX2 but not AVX-512 VNNI.
func packedRowAVX2(t gguf.Type, group []byte, p *PackedActivations, i int, out *[PackRows]float32) {
	nb := p.K / qk8_0
	k := packedQ8_0RowAVX2
	if t == gguf.TypeQ4_0 {
		k = packedQ4_0RowAVX2
	}
	k(&group[0], nb, &p.Q[i*p.RowBytes], &p.D[i*nb], &p.C[i*nb], &out[0])
}

func init() {
	if !hasAVX512VNNI {
		if hasAVX2 {
			packedRow = packedRowAVX2
		}
		return
	}
	quantizePacked = func(x []float32, q []byte, d []float32, c []int32, shift int) {
		nb := len(x) / qk8_0
		if nb == 0 {
			return
		}
		_, _, _ = q[nb*blockQ8_0-1], d[nb-1], c[nb-1]
		quantizePackedAVX512(&x[0], nb, &q[0], &d[0], &c[0], shift)
	}
	packedRow = func(t gguf.Type, group []byte, p *PackedActivations, i int, out *[PackRows]float32) {
		nb := p.K / qk8_0
		k := packedQ8_0RowVNNI
		if t == gguf.TypeQ4_0 {
			k = packedQ4_0RowVNNI
		}
		k(&group[0], nb, &p.Q[i*p.RowBytes], &p.D[i*nb], &p.C[i*nb], &out[0])
	}
	packedRows4 = func(t gguf.Type, group []byte, p *PackedActivations, i int, out []float32, ostride int) {
		nb := p.K / qk8_0
		k := packedQ8_0Rows4VNNI
		if t == gguf.TypeQ4_0 {
			k = packedQ4_0Rows4VNNI
		}
		_, _ = out[3*ostride+PackRows-1], p.Q[(i+4)*p.RowBytes-1]
		k(&group[0], nb, &p.Q[i*p.RowBytes], p.RowBytes, &p.D[i*nb], &p.C[i*nb], 4*nb, &out[0], 4*ostride)
	}
	if cpu.X86.HasAMXTile && cpu.X86.HasAMXInt8 && enableAMX() {
		expand = func(t gguf.Type, group []byte, nb int, dst []byte) {
			k := expandQ8_0AVX512
			if t == gguf.TypeQ4_0 {
				k = expandQ4_0AVX512
			}
			_ = dst[nb*packedQ8_0Block-1]
			k(&group[0], nb, &dst[0])
		}
		packedTile = func(expanded []byte, p *PackedActivations, tile int, s *PackedScratch, out []float32, ostride int) {
			nb := p.K / qk8_0
			base := tile * PackRows * nb
			packedS8TileAMX(&amxTileConfig[0], &expanded[0], nb, &p.TileQ[base*qk8_0], qk8_0,
				&p.TileD[base], &s.tileBuf()[0], &out[0], 4*ostride)
		}
	}
}
