package kernels

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the process's user and system CPU time: on a machine shared
// with other jobs, CPU time per operation of a one-goroutine benchmark moves
// much less than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the CPU time per operation since start to b's metrics.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}
