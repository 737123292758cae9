package vulkan

import (
	"cmp"
	"math"
	"slices"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// wantTopK is the reference: the k first indices of row in the sampler's
// order (the larger value first, the lower index on ties, NaN last), sorted
// by index.
func wantTopK(row []float32, k int) []int32 {
	ids := make([]int32, len(row))
	for i := range ids {
		ids[i] = int32(i)
	}
	slices.SortStableFunc(ids, func(a, b int32) int { return cmp.Compare(row[b], row[a]) })
	ids = ids[:k]
	slices.Sort(ids)
	return ids
}

// TopK on the device keeps what a sort would, on rows with ties across the
// k-th value, NaNs, infinities and signed zeros, for k from 1 to MaxTopK,
// with the values as they are in the row, and reads back 8k bytes a row.
// ArgMax in between on the same rows still answers as the CPU does (their
// replayed dispatches are told apart by k).
func TestTopKMatchesSort(t *testing.T) {
	e := newEnv(t, Options{})
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, cols := range []int{1, 7, 300, 1000, 32000} {
		rows := 9
		xs := e.randn(rows*cols, 1)
		row := func(r int) []float32 { return xs[r*cols : (r+1)*cols] }
		for i := range row(1) {
			row(1)[i] = float32(i % 3) // a third of the row ties at each value
		}
		for i := 0; i < cols; i += 5 {
			row(2)[i] = nan
		}
		for i := range row(3) {
			row(3)[i] = -inf
		}
		row(4)[cols-1] = inf
		for i := range row(5) {
			row(5)[i] = 0.5
		}
		for i := range row(6) {
			row(6)[i] = float32(math.Copysign(0, float64(i%2)-0.5))
		}
		for i := range row(7) {
			row(7)[i] = float32(int(xs[i]*4)) / 4 // coarse values: ties everywhere
		}
		for i := range row(8) {
			row(8)[i] = nan
		}
		x := e.alloc(gguf.TypeF32, rows, cols)
		e.write(x, f32bytes(xs))
		for _, k := range []int{1, 2, 40, 255, 256} {
			if k > cols {
				continue
			}
			ids, vals := make([]int32, rows*k), make([]float32, rows*k)
			for i := range vals {
				ids[i], vals[i] = -7, 12345 // poison
			}
			before := e.vk.Counters()
			if err := e.vk.TopK(x.g, k, ids, vals); err != nil {
				t.Fatal(err)
			}
			if n := e.vk.Counters().ReadbackBytes - before.ReadbackBytes; n != int64(8*k*rows) {
				t.Errorf("cols %d k %d: read back %d bytes, want %d", cols, k, n, 8*k*rows)
			}
			for r := range rows {
				got := slices.Clone(ids[r*k : (r+1)*k])
				for j, id := range got {
					if id < 0 || int(id) >= cols || math.Float32bits(vals[r*k+j]) != math.Float32bits(row(r)[id]) {
						t.Fatalf("cols %d k %d row %d: id %d with value %v", cols, k, r, id, vals[r*k+j])
					}
				}
				slices.Sort(got)
				if want := wantTopK(row(r), k); !slices.Equal(got, want) {
					t.Errorf("cols %d k %d row %d: got %v, want %v", cols, k, r, got, want)
				}
			}
			am, want := make([]int32, rows), make([]int32, rows)
			if err := e.vk.ArgMax(x.g, am); err != nil {
				t.Fatal(err)
			}
			if err := e.cpu.ArgMax(x.c, want); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(am, want) {
				t.Errorf("cols %d, after TopK %d: ArgMax %v, cpu %v", cols, k, am, want)
			}
		}
	}
	x := e.alloc(gguf.TypeF32, 1, 10)
	if err := e.vk.TopK(x.g, 11, make([]int32, 11), make([]float32, 11)); err == nil {
		t.Error("TopK of 11 from 10 columns: no error")
	}
}
