package vulkan

import (
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// ArgMax on the device picks what the CPU's sequential scan picks, on rows
// with ties, NaNs and infinities, and reads back 4 bytes a row.
func TestArgMaxMatchesCPU(t *testing.T) {
	e := newEnv(t, Options{})
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, cols := range []int{1, 7, 256, 1000, 32000} {
		rows := 9
		xs := e.randn(rows*cols, 1)
		row := func(r int) []float32 { return xs[r*cols : (r+1)*cols] }
		// Row 1: ties of the maximum (the first must win).
		for i := range row(1) {
			row(1)[i] = float32(i % 3)
		}
		// Row 2: a NaN first (the scan answers 0); row 3: NaNs elsewhere.
		row(2)[0] = nan
		for i := 0; i < cols; i += 5 {
			row(3)[i] = nan
		}
		if cols > 1 {
			row(3)[0] = 0
		}
		// Row 4: all -Inf; row 5: +Inf late; row 6: all equal.
		for i := range row(4) {
			row(4)[i] = -inf
		}
		row(5)[cols-1] = inf
		for i := range row(6) {
			row(6)[i] = 0.5
		}
		// Row 7: the maximum in the last column, ties at 0 and -0.
		for i := range row(7) {
			row(7)[i] = float32(math.Copysign(0, float64(i%2)-0.5))
		}
		x := e.alloc(gguf.TypeF32, rows, cols)
		e.write(x, f32bytes(xs))
		got, want := make([]int32, rows), make([]int32, rows)
		before := e.vk.Counters()
		if err := e.vk.ArgMax(x.g, got); err != nil {
			t.Fatal(err)
		}
		if n := e.vk.Counters().ReadbackBytes - before.ReadbackBytes; n != int64(4*rows) {
			t.Errorf("cols %d: read back %d bytes, want %d", cols, n, 4*rows)
		}
		if err := e.cpu.ArgMax(x.c, want); err != nil {
			t.Fatal(err)
		}
		for r := range rows {
			if got[r] != want[r] {
				t.Errorf("cols %d row %d: vulkan %d, cpu %d", cols, r, got[r], want[r])
			}
		}
	}
}

// ArgMax on the same rows again replays its recorded dispatch: it must still
// see the rows' new values (and with replay off, the same answers).
func TestArgMaxReplayedSeesNewValues(t *testing.T) {
	for _, o := range []Options{{}, {NoReplay: true}} {
		e := newEnv(t, o)
		rows, cols := 3, 1000
		x := e.alloc(gguf.TypeF32, rows, cols)
		for step := range 4 {
			e.write(x, f32bytes(e.randn(rows*cols, 1)))
			got, want := make([]int32, rows), make([]int32, rows)
			if err := e.vk.ArgMax(x.g, got); err != nil {
				t.Fatal(err)
			}
			if err := e.cpu.ArgMax(x.c, want); err != nil {
				t.Fatal(err)
			}
			for r := range rows {
				if got[r] != want[r] {
					t.Errorf("replay off %v, step %d row %d: vulkan %d, cpu %d", o.NoReplay, step, r, got[r], want[r])
				}
			}
		}
		if g := e.vk.KeptGraphs(); (g == 1) == o.NoReplay {
			t.Errorf("replay off %v: %d graphs kept", o.NoReplay, g)
		}
	}
}
