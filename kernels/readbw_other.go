//go:build !amd64

package kernels

func streamRead(b []byte) uint64 { return streamReadGo(b) }
