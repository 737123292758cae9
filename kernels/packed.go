package kernels

import (
	"fmt"
	"unsafe"

	"github.com/conveyor-llm/conveyor/gguf"
)

// Packed weights. A Q8_0 or Q4_0 matrix can be rewritten in place, 16 rows at
// a time, into a layout its matrix kernels read without shuffling: for each
// block of 32 columns, the 16 rows' fp16 scales side by side (32 bytes), then
// their quants interleaved four columns at a time, so that one 64-byte line
// holds columns 4g..4g+3 of all 16 rows (the layout VPDPBUSD and AMX's
// TDPBSUD take their unsigned operand in):
//
//	Q8_0 (544 bytes per block, as 16 standard blocks): 8 lines g = 0..7, byte
//	     4r+e of line g is row r's quant 4g+e plus 128 (stored unsigned);
//	Q4_0 (288 bytes per block): 4 lines c = 0..3, byte 4r+e of line c is row
//	     r's standard quant byte 4c+e: low nibble column 4c+e, high nibble
//	     column 16+4c+e, both as stored (q+8, unsigned).
//
// A group takes the bytes its 16 standard rows took, so a packed matrix has the
// size and row offsets of the file's, group by group.
//
// Dot products with packed weights are the Format's Dot, bit for bit: per
// block the exact integer sum of products Σ q_w·q_a is taken as the unsigned
// sum Σ u_w·q_a less the bias (128 or 8) times Σ q_a (the activation row's "correction",
// computed once per block), then scaled with one fused multiply-add.

// PackRows is the number of weight rows packed together.
const PackRows = 16

const (
	packedQ8_0Block = PackRows * blockQ8_0 // 544
	packedQ4_0Block = PackRows * blockQ4_0 // 288
	packScales      = 2 * PackRows         // the 16 fp16 scales leading each packed block
)

// Packable reports whether matrices of type t with cols columns have a packed
// layout.
func Packable(t gguf.Type, cols int) bool {
	return (t == gguf.TypeQ8_0 || t == gguf.TypeQ4_0) && cols > 0 && cols%qk8_0 == 0
}

// PackGroup rewrites 16 standard rows of cols columns (data, 16 row lengths)
// into the packed layout in place; tmp is scratch of at least that size.
func PackGroup(t gguf.Type, data, tmp []byte, cols int) {
	rowBytes := int(t.RowBytes(cols))
	if !Packable(t, cols) || len(data) != PackRows*rowBytes || len(tmp) < len(data) {
		panic(fmt.Sprintf("kernels: PackGroup of %v with %d columns: %d bytes, scratch %d", t, cols, len(data), len(tmp)))
	}
	tmp = tmp[:len(data)]
	copy(tmp, data)
	nb := cols / qk8_0
	blockBytes, lines := blockQ8_0, 8
	if t == gguf.TypeQ4_0 {
		blockBytes, lines = blockQ4_0, 4
	}
	packed := PackRows * blockBytes
	for b := 0; b < nb; b++ {
		dst := data[b*packed : (b+1)*packed]
		for r := 0; r < PackRows; r++ {
			src := tmp[r*rowBytes+b*blockBytes:]
			dst[2*r], dst[2*r+1] = src[0], src[1]
			for g := 0; g < lines; g++ {
				for e := 0; e < 4; e++ {
					v := src[2+4*g+e]
					if t == gguf.TypeQ8_0 {
						v ^= 0x80
					}
					dst[packScales+64*g+4*r+e] = v
				}
			}
		}
	}
}

// UnpackRow writes row r (0..15) of a packed group in the standard layout.
func UnpackRow(t gguf.Type, dst, group []byte, r, cols int) {
	nb := cols / qk8_0
	blockBytes, lines := blockQ8_0, 8
	if t == gguf.TypeQ4_0 {
		blockBytes, lines = blockQ4_0, 4
	}
	packed := PackRows * blockBytes
	for b := 0; b < nb; b++ {
		src := group[b*packed : (b+1)*packed]
		out := dst[b*blockBytes : (b+1)*blockBytes]
		out[0], out[1] = src[2*r], src[2*r+1]
		for g := 0; g < lines; g++ {
			for e := 0; e < 4; e++ {
				v := src[packScales+64*g+4*r+e]
				if t == gguf.TypeQ8_0 {
					v ^= 0x80
				}
				out[2+4*g+e] = v
			}
		}
	}
}

// PackedActivations is a batch of activation rows quantized to Q8_0 for packed
// weights of one type, with the per-block tables the kernels read: each
// block's scale as float32 and its correction (bias·Σ q_a), row by row, and,
// for the tile kernels, the quants and scales tile by tile (16 rows side by
// side per block: one contiguous 512-byte AMX tile of quants per block). The
// quantized rows are padded with zero rows to a whole tile.
type PackedActivations struct {
	Type     gguf.Type // the weights'
	Rows, K  int
	RowBytes int
	Q        []byte    // Rows (padded to 16) standard Q8_0 rows
	D        []float32 // [row][block]
	C        []int32   // [row][block]
	TileQ    []byte    // [tile][block][16][32]
	TileD    []float32 // [tile][block][16]
}

// Reset sizes p for rows activation rows of k values against packed weights
// of type t, reusing its memory.
func (p *PackedActivations) Reset(t gguf.Type, rows, k int) {
	nb := k / qk8_0
	padded := (rows + PackRows - 1) / PackRows * PackRows
	p.Type, p.Rows, p.K, p.RowBytes = t, rows, k, nb*blockQ8_0
	p.Q = resize(p.Q, padded*p.RowBytes)
	p.D = resize(p.D, padded*nb)
	p.C = resize(p.C, padded*nb)
	p.TileQ = resize(p.TileQ, padded*nb*qk8_0)
	p.TileD = resize(p.TileD, padded*nb)
	clear(p.Q[rows*p.RowBytes:])
	clear(p.D[rows*nb:])
	clear(p.C[rows*nb:])
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Quantize converts row i of activations and fills its tables.
func (p *PackedActivations) Quantize(i int, x []float32) {
	nb := p.K / qk8_0
	quantizePacked(x[:p.K], p.Q[i*p.RowBytes:(i+1)*p.RowBytes], p.D[i*nb:(i+1)*nb], p.C[i*nb:(i+1)*nb], packShift(p.Type))
}

// packShift is log2 of the bias packing adds to a weight quant to make it
// unsigned (128 for Q8_0, 8 for Q4_0): a block's correction is Σ q_a << shift.
func packShift(t gguf.Type) int {
	if t == gguf.TypeQ8_0 {
		return 7
	}
	return 3
}

// quantizePacked quantizes x as the activations of a packed matmul (see
// quantizeQ8_0Activations) into q, with each block's scale as float32 in d
// and its correction Σq << shift in c; an assembly version replaces it where
// the machine has one.
var quantizePacked = quantizePackedGo

func quantizePackedGo(x []float32, q []byte, d []float32, c []int32, shift int) {
	quantizeQ8_0Activations(q, x)
	for b := range d {
		blk := q[b*blockQ8_0 : (b+1)*blockQ8_0]
		var s int32
		for _, v := range blk[q8_0QsOffs:] {
			s += int32(int8(v))
		}
		d[b] = getF16(blk)
		c[b] = s << shift
	}
}

// Transpose fills the tile quants and table of tile (rows 16·tile ..
// 16·tile+15) from the rows; call it after the tile's rows are quantized.
func (p *PackedActivations) Transpose(tile int) {
	nb := p.K / qk8_0
	base := tile * PackRows * nb
	for r := 0; r < PackRows; r++ {
		for b := 0; b < nb; b++ {
			p.TileD[base+b*PackRows+r] = p.D[base+r*nb+b]
			row := tile*PackRows + r
			copy(p.TileQ[(base+b*PackRows+r)*qk8_0:][:qk8_0], p.Q[row*p.RowBytes+b*blockQ8_0+q8_0QsOffs:])
		}
	}
}

// packedRowGo computes the 16 dots of a packed group with activation row i:
// the plain-Go twin of the packed kernels, out[r] for weight row r.
func packedRowGo(t gguf.Type, group []byte, p *PackedActivations, i int, out *[PackRows]float32) {
	nb := p.K / qk8_0
	lines := 8
	if t == gguf.TypeQ4_0 {
		lines = 4
	}
	packed := packScales + 64*lines
	a := p.Q[i*p.RowBytes:]
	for r := 0; r < PackRows; r++ {
		var acc float32
		for b := 0; b < nb; b++ {
			blk := group[b*packed:]
			qa := a[b*blockQ8_0+q8_0QsOffs : (b+1)*blockQ8_0]
			var isum int32
			for g := 0; g < lines; g++ {
				for e := 0; e < 4; e++ {
					u := blk[packScales+64*g+4*r+e]
					if t == gguf.TypeQ4_0 {
						isum += int32(u&15)*int32(int8(qa[4*g+e])) + int32(u>>4)*int32(int8(qa[16+4*g+e]))
					} else {
						isum += int32(u) * int32(int8(qa[4*g+e]))
					}
				}
			}
			d := getF16(blk[2*r:]) * p.D[i*nb+b]
			acc = fma32(d, float32(isum-p.C[i*nb+b]), acc)
		}
		out[r] = acc
	}
}

// The packed kernels this machine runs: packedRow for one activation row
// (the Go twin unless an assembly one is chosen at start-up); expand and
// packedTile for whole tiles of 16 rows (nil where the machine has no tile
// instructions): expand rewrites a group's quants as signed bytes in the
// layout of packed Q8_0 (expanded groups, 544 bytes per block, a worker's
// scratch), which packedTile multiplies with a tile of activations.
var (
	packedRow = packedRowGo
	// packedRows4 is packedRow for rows i..i+3 with each weight block loaded
	// once (nil: packedRow 4 times).
	packedRows4 func(t gguf.Type, group []byte, p *PackedActivations, i int, out []float32, ostride int)
	expand      func(t gguf.Type, group []byte, nb int, dst []byte)
	packedTile  func(expanded []byte, p *PackedActivations, tile int, s *PackedScratch, out []float32, ostride int)
)

// expandGo is expand's plain-Go twin.
func expandGo(t gguf.Type, group []byte, nb int, dst []byte) {
	for b := 0; b < nb; b++ {
		out := dst[b*packedQ8_0Block : (b+1)*packedQ8_0Block]
		if t == gguf.TypeQ8_0 {
			src := group[b*packedQ8_0Block : (b+1)*packedQ8_0Block]
			copy(out, src)
			for i := packScales; i < packedQ8_0Block; i++ {
				out[i] ^= 0x80
			}
			continue
		}
		src := group[b*packedQ4_0Block : (b+1)*packedQ4_0Block]
		copy(out[:packScales], src)
		for i := 0; i < 4*64; i++ {
			v := src[packScales+i]
			out[packScales+i] = v&15 - 8
			out[packScales+256+i] = v>>4 - 8
		}
	}
}

// packedTileMinRows is the fewest rows of a tile worth a tile kernel, which
// costs the same for 1 row as for 16, plus the group's expansion. On a
// Sapphire Rapids core the VNNI kernel over 4 rows at a time runs at VNNI's
// peak (~62 int8 multiply-adds a cycle), as fast as AMX over one tile with
// its expansion; AMX pulls ahead (~1.4x) when a group's expansion serves
// many tiles, as in a prompt's prefill.
const packedTileMinRows = 16

// PackedScratch is one worker's scratch memory for the packed kernels.
type PackedScratch struct {
	tiles    []byte // two 16x16 int32 tiles
	expanded []byte // one expanded group
	out      [PackRows * PackRows]float32
}

// aligned64 returns n bytes starting on a 64-byte boundary.
func aligned64(n int) []byte {
	raw := make([]byte, n+64)
	skip := (64 - int(uintptr(unsafe.Pointer(&raw[0])))%64) % 64
	return raw[skip : skip+n]
}

func (s *PackedScratch) tileBuf() []byte {
	if s.tiles == nil {
		s.tiles = aligned64(2048)
	}
	return s.tiles
}

func (s *PackedScratch) expandedBuf(nb int) []byte {
	if cap(s.expanded) < nb*packedQ8_0Block {
		s.expanded = aligned64(nb * packedQ8_0Block)
	}
	return s.expanded[:nb*packedQ8_0Block]
}

// PackedDots computes, for activation rows first..first+rows-1 of p (first a
// multiple of 16), the dot products with the 16 weight rows of one packed
// group: out[i*ostride+r] for row i and weight row r. Each is bit for bit the
// Format's Dot of the standard rows, whatever the rows or the kernel that
// computes it.
func PackedDots(group []byte, p *PackedActivations, first, rows int, out []float32, ostride int, s *PackedScratch) {
	nb := p.K / qk8_0
	block := packedQ8_0Block
	if p.Type == gguf.TypeQ4_0 {
		block = packedQ4_0Block
	}
	last := first + rows
	if len(group) < nb*block || first%PackRows != 0 || first < 0 || last > p.Rows ||
		rows > 0 && (ostride < PackRows || len(out) < (last-1)*ostride+PackRows) {
		panic(fmt.Sprintf("kernels: PackedDots: group of %d bytes for %d blocks, rows %d..%d of %d, out %d/%d",
			len(group), nb, first, last, p.Rows, len(out), ostride))
	}
	if nb == 0 {
		for i := first; i < last; i++ {
			clear(out[i*ostride : i*ostride+PackRows])
		}
		return
	}
	var expanded []byte
	for t0 := first; t0 < last; t0 += PackRows {
		n := min(PackRows, last-t0)
		if packedTile != nil && n >= packedTileMinRows {
			if expanded == nil {
				expanded = s.expandedBuf(nb)
				expand(p.Type, group, nb, expanded)
			}
			if n == PackRows {
				packedTile(expanded, p, t0/PackRows, s, out[t0*ostride:], ostride)
				continue
			}
			packedTile(expanded, p, t0/PackRows, s, s.out[:], PackRows)
			for i := 0; i < n; i++ {
				copy(out[(t0+i)*ostride:(t0+i)*ostride+PackRows], s.out[i*PackRows:(i+1)*PackRows])
			}
			continue
		}
		i := t0
		if packedRows4 != nil {
			for ; i+4 <= t0+n; i += 4 {
				packedRows4(p.Type, group, p, i, out[i*ostride:(i+3)*ostride+PackRows], ostride)
			}
		}
		for ; i < t0+n; i++ {
			packedRow(p.Type, group, p, i, (*[PackRows]float32)(out[i*ostride:i*ostride+PackRows]))
		}
	}
}

// TilesWanted reports whether the tile tables of p are read (call Transpose
// for each tile if so).
func (p *PackedActivations) TilesWanted() bool {
	return packedTile != nil && p.Rows >= packedTileMinRows
}
