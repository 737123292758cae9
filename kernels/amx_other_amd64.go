//go:build amd64 && !linux

package kernels

// enableAMX: tile state is only requested on Linux.
func enableAMX() bool { return false }
