//go:build !linux

package engine

import "time"

// processCPU is zero where the CPU time is not read.
func processCPU() time.Duration { return 0 }
