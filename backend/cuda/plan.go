package cuda

import "fmt"

// Device memory is handed out by cuMemAlloc, one allocation per Buffer
// (256-byte aligned); the backend's own scratch is planned here.

// scratchAlign is the alignment of every scratch region: the kernels load
// int4 vectors, and 256 is what cuMemAlloc gives.
const scratchAlign = 256

func alignUp(n int64) int64 { return (n + scratchAlign - 1) &^ (scratchAlign - 1) }

// q8Plan lays out x quantized to Q8_0 for a matmul of rows x k values: the
// int8 quants of every row, contiguous (32 per block, so each block is
// 32-byte aligned for the kernels' int loads), then one float scale per
// block.
type q8Plan struct {
	quants, scales int64 // byte offsets
	total          int64
}

func planQ8(rows, k int) (q8Plan, error) {
	if rows < 0 || k <= 0 || k%32 != 0 {
		return q8Plan{}, fmt.Errorf("cuda: quantizing %d rows of %d values: want a multiple of 32", rows, k)
	}
	values := int64(rows) * int64(k)
	p := q8Plan{quants: 0, scales: alignUp(values)}
	p.total = alignUp(p.scales + values/32*4)
	return p, nil
}

// grow is the size a scratch buffer grows to for need bytes: at least
// double what it had (so a prompt's growing batches reallocate rarely),
// aligned.
func grow(have, need int64) int64 {
	if need <= have {
		return have
	}
	return alignUp(max(need, 2*have, 1<<20))
}

// elementwiseGrid is the blocks and threads for n elements of a grid-stride
// kernel: enough blocks to fill the GPU, never more than maxBlocks.
func elementwiseGrid(n int64) (blocks, threads uint32) {
	const threadsPerBlock, maxBlocks = 256, 4096
	b := (n + threadsPerBlock - 1) / threadsPerBlock
	return uint32(min(max(b, 1), maxBlocks)), threadsPerBlock
}
