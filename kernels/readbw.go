package kernels

import (
	"runtime"
	"sync"
	"time"
)

// ReadBandwidth measures how fast threads goroutines, each locked to its own
// OS thread, stream through their own part of a bytes-long buffer (far
// larger than the caches), as a decode streams its weights: the best of
// passes full passes, in bytes per second. It is the yardstick the bench
// compares decode against (weight bytes read per token × tokens per second).
func ReadBandwidth(threads, bytes, passes int) float64 {
	threads, passes = max(threads, 1), max(passes, 1)
	per := max(bytes/threads, 4096) &^ 255
	bufs := make([][]byte, threads)
	var wg sync.WaitGroup
	run := func(f func(i int)) time.Duration {
		start := time.Now()
		for i := range threads {
			wg.Go(func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				f(i)
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	// Each thread first touches its own buffer, so its pages are resident
	// (and local to it) before the timed passes.
	run(func(i int) {
		bufs[i] = make([]byte, per)
		for j := 0; j < per; j += 4096 {
			bufs[i][j] = byte(j)
		}
	})
	var sink [64]uint64
	best := time.Duration(1<<63 - 1)
	for range passes {
		d := run(func(i int) { sink[i%len(sink)] += streamRead(bufs[i]) })
		best = min(best, d)
	}
	_ = sink
	return float64(per*threads) / best.Seconds()
}

// streamReadGo is streamRead's plain-Go twin: the XOR of b as little-endian
// 64-bit words (len(b) a multiple of 256).
func streamReadGo(b []byte) uint64 {
	var x0, x1, x2, x3 uint64
	for i := 0; i+32 <= len(b); i += 32 {
		x0 ^= le64(b[i:])
		x1 ^= le64(b[i+8:])
		x2 ^= le64(b[i+16:])
		x3 ^= le64(b[i+24:])
	}
	return x0 ^ x1 ^ x2 ^ x3
}

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}
