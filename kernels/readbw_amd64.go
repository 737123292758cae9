package kernels

//go:noescape
func streamReadAVX2(p *byte, n int) uint64

// streamRead is the XOR of b's 64-bit words, 128 bytes per loop iteration
// in four 256-bit registers: a load per 32 bytes and nothing else, the most
// a core's loads can ask of memory.
func streamRead(b []byte) uint64 {
	n := len(b) &^ 255
	if !hasAVX2 || n == 0 {
		return streamReadGo(b)
	}
	return streamReadAVX2(&b[0], n) ^ streamReadGo(b[n:])
}
