//go:build !linux

package kernels

// kq236CPUSeconds is 0 where the CPU time is not read (no per-CPU rates).
func kq236CPUSeconds() float64 { return 0 }
