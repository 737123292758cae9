package cuda

import (
	"encoding/binary"
	"fmt"
	"math"
)

// MaxArgBytes is the most bytes of parameters one Command carries.
const MaxArgBytes = 192

// Command kinds.
const (
	KindLaunch = 0 // launch Fn with Args
	KindCopy   = 1 // device-to-device copy: Args dst, src, bytes
	KindZero   = 2 // memset 0: Args dst, bytes
)

// Command is one queued kernel launch or copy. Its layout is cu.h's cu_cmd
// (checked by a test), so a slice of them crosses cgo as one pointer; it
// holds no Go pointers.
type Command struct {
	Fn      uint64 // the CUfunction, for KindLaunch
	Kind    uint32
	Grid    [3]uint32
	Block   [3]uint32
	Shmem   uint32 // dynamic shared memory, bytes
	ArgSize uint32
	_       uint32
	Args    [MaxArgBytes]byte
}

// Args packs kernel parameters as the kernel's C ABI lays them out: each at
// an offset aligned to its own size, in order. The zero value is empty.
type Args struct {
	buf   [MaxArgBytes]byte
	n     int
	err   error
	kinds [MaxArgBytes / 4]byte // 'u' u64 (pointers too), 'i' u32, 'f' f32
	nk    int
}

// Signature is the PTX types of the parameters packed so far, as PTX
// declares a kernel's: "u64,u32,f32".
func (a *Args) Signature() string {
	out := make([]byte, 0, 4*a.nk)
	for i, k := range a.kinds[:a.nk] {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, map[byte]string{'u': "u64", 'i': "u32", 'f': "f32"}[k]...)
	}
	return string(out)
}

func (a *Args) kind(k byte) {
	if a.nk < len(a.kinds) {
		a.kinds[a.nk] = k
		a.nk++
	}
}

func (a *Args) put(size int, v uint64) *Args {
	off := (a.n + size - 1) &^ (size - 1)
	if off+size > MaxArgBytes {
		if a.err == nil {
			a.err = fmt.Errorf("cuda: kernel parameters exceed %d bytes", MaxArgBytes)
		}
		return a
	}
	switch size {
	case 4:
		binary.LittleEndian.PutUint32(a.buf[off:], uint32(v))
	case 8:
		binary.LittleEndian.PutUint64(a.buf[off:], v)
	}
	a.n = off + size
	return a
}

// Ptr appends a device pointer (8 bytes, 8-aligned).
func (a *Args) Ptr(p DevPtr) *Args { a.kind('u'); return a.put(8, uint64(p)) }

// I32 appends an int (4 bytes).
func (a *Args) I32(v int32) *Args { a.kind('i'); return a.put(4, uint64(uint32(v))) }

// Int appends v as an int, which must fit 32 bits.
func (a *Args) Int(v int) *Args {
	if v < math.MinInt32 || v > math.MaxInt32 {
		if a.err == nil {
			a.err = fmt.Errorf("cuda: kernel parameter %d does not fit an int", v)
		}
		a.kind('i')
		return a
	}
	return a.I32(int32(v))
}

// U64 appends an unsigned long long (8 bytes, 8-aligned).
func (a *Args) U64(v uint64) *Args { a.kind('u'); return a.put(8, v) }

// F32 appends a float (4 bytes).
func (a *Args) F32(v float32) *Args { a.kind('f'); return a.put(4, uint64(math.Float32bits(v))) }

// Bytes is the packed parameters.
func (a *Args) Bytes() []byte { return a.buf[:a.n] }

// Err is the first packing error (too many bytes, an int out of range).
func (a *Args) Err() error { return a.err }

// Launch is the command that launches fn over grid blocks of block threads
// with the packed args (CU_LAUNCH_PARAM_BUFFER_SIZE is their exact size: the
// end of the last parameter, as PTX declares the parameter space).
func Launch(fn Function, grid, block [3]uint32, shmem uint32, a *Args) (Command, error) {
	if a.err != nil {
		return Command{}, a.err
	}
	for i := range 3 {
		if grid[i] == 0 || block[i] == 0 {
			return Command{}, fmt.Errorf("cuda: launch with grid %v, block %v", grid, block)
		}
	}
	c := Command{Fn: uint64(fn), Kind: KindLaunch, Grid: grid, Block: block, Shmem: shmem}
	c.ArgSize = uint32(a.n)
	copy(c.Args[:], a.buf[:a.n])
	return c, nil
}

// Copy is the command that copies n bytes from src to dst on the device.
func Copy(dst, src DevPtr, n uint64) Command {
	c := Command{Kind: KindCopy}
	binary.LittleEndian.PutUint64(c.Args[0:], uint64(dst))
	binary.LittleEndian.PutUint64(c.Args[8:], uint64(src))
	binary.LittleEndian.PutUint64(c.Args[16:], n)
	return c
}

// Zero is the command that sets n bytes at dst to 0.
func Zero(dst DevPtr, n uint64) Command {
	c := Command{Kind: KindZero}
	binary.LittleEndian.PutUint64(c.Args[0:], uint64(dst))
	binary.LittleEndian.PutUint64(c.Args[8:], n)
	return c
}

// DevPtr is a device address (CUdeviceptr).
type DevPtr uint64

// Function is a kernel (CUfunction).
type Function uint64
