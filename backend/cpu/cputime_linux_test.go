package cpu

import (
	"syscall"
	"time"
)

// processCPU is the process's user and system CPU time: on a machine shared
// with other jobs, CPU time per operation moves much less than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
