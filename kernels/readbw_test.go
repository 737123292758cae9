package kernels

import (
	"math/rand/v2"
	"testing"
)

func TestStreamReadMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 8, 256, 512 + 40, 4096 + 256} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if got, want := streamRead(b), streamReadGo(b); got != want {
			t.Fatalf("%d bytes: %#x, want %#x", n, got, want)
		}
	}
}

func TestReadBandwidthPositive(t *testing.T) {
	if bw := ReadBandwidth(2, 8<<20, 1); !(bw > 0) {
		t.Fatalf("ReadBandwidth = %v", bw)
	}
}

// BenchmarkReadBandwidth reports the streaming read rate of 2 threads over
// 512 MiB in GB/s.
func BenchmarkReadBandwidth(b *testing.B) {
	var bw float64
	for b.Loop() {
		bw = ReadBandwidth(2, 512<<20, 3)
	}
	b.ReportMetric(bw/1e9, "GB/s")
}
