//go:build !cgo

// Package emu runs CUDA C kernels on the CPU for tests; it needs cgo.
package emu
