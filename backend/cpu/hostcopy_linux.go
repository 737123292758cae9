package cpu

import "golang.org/x/sys/unix"

// copyHost copies a mapped file's bytes into anonymous memory advised for
// transparent huge pages. Weights are streamed once per decoded token, and
// from anonymous memory decoding runs about 20% faster than from the file's
// page-cache pages (TinyLlama Q4_0 on 2 cores: 30 -> 36 tok/s), at the cost
// of holding the weights twice (the file's pages stay mapped). It declines
// (ok false) for small data and when the copy would take more than half of
// the free memory.
func copyHost(data []byte) (mem []byte, free func(), ok bool) {
	var info unix.Sysinfo_t
	if len(data) < 1<<20 || unix.Sysinfo(&info) != nil ||
		uint64(len(data)) > uint64(info.Freeram)*uint64(info.Unit)/2 {
		return nil, nil, false
	}
	mem, err := unix.Mmap(-1, 0, len(data), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, nil, false
	}
	_ = unix.Madvise(mem, unix.MADV_HUGEPAGE) // advice only
	copy(mem, data)
	return mem, func() { _ = unix.Munmap(mem) }, true
}
