package gguf

import (
	"fmt"
	"math/bits"
	"os"
	"sort"

	"golang.org/x/sys/unix"
)

// Magic is the four bytes every GGUF file starts with.
const Magic = "GGUF"

// DefaultAlignment is the data alignment when general.alignment is absent.
const DefaultAlignment = 32

// KeyAlignment is the metadata key that sets the data alignment.
const KeyAlignment = "general.alignment"

// MaxDims is the most dimensions a tensor may have.
const MaxDims = 4

// Smallest encodings, used to reject counts a file of its size cannot hold.
const (
	minKVBytes     = 8 + 4 + 1         // key length, value type, one-byte value
	minTensorBytes = 8 + 4 + 8 + 4 + 8 // name length, n_dims, one dim, type, offset
)

// TensorInfo describes one tensor; its data is at DataOffset+Offset in the file.
type TensorInfo struct {
	Name   string
	Dims   []uint64 // ne0 first, as in the file: Dims[0] is the row length
	Type   Type
	Offset uint64 // relative to the data section
}

// Elements is the number of values in the tensor.
func (t TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Bytes is the size of the tensor's data, 0 for an unknown type.
func (t TensorInfo) Bytes() uint64 {
	if !t.Type.Known() {
		return 0
	}
	return t.Elements() / uint64(t.Type.BlockSize()) * uint64(t.Type.BlockBytes())
}

// File is a parsed GGUF file. Its tensor data stays in the file's bytes (mapped by
// Open), which TensorData slices into.
type File struct {
	Version    uint32
	KVs        []Value      // file order
	Tensors    []TensorInfo // file order
	Alignment  uint64
	DataOffset uint64 // absolute offset of the data section; past the end in a file without tensors that lacks the final padding

	data    []byte
	mapped  bool
	kvIndex map[string]int
	tIndex  map[string]int
}

// Open maps the file at path read-only and parses it. Close unmaps it.
func Open(path string) (*File, error) {
	fail := func(err error) (*File, error) { return nil, fmt.Errorf("gguf: %s: %w", path, err) }
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return fail(err)
	}
	size := st.Size()
	if size < 4+4+8+8 {
		return fail(fmt.Errorf("file of %d bytes is too short for a GGUF header", size))
	}
	if size != int64(int(size)) {
		return fail(fmt.Errorf("file of %d bytes is too large to map", size))
	}
	data, err := unix.Mmap(int(fd.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fail(fmt.Errorf("mmap: %w", err))
	}
	f, err := parse(data)
	if err != nil {
		_ = unix.Munmap(data)
		return fail(err)
	}
	f.mapped = true
	return f, nil
}

// Parse parses a GGUF file held in data, which the File keeps and slices into.
func Parse(data []byte) (*File, error) {
	f, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	return f, nil
}

// Close unmaps a file from Open; for a parsed byte slice it does nothing.
func (f *File) Close() error {
	if !f.mapped || f.data == nil {
		return nil
	}
	data := f.data
	f.data = nil
	if err := unix.Munmap(data); err != nil {
		return fmt.Errorf("gguf: munmap: %w", err)
	}
	return nil
}

// Lookup finds a metadata value by key.
func (f *File) Lookup(key string) (Value, bool) {
	i, ok := f.kvIndex[key]
	if !ok {
		return Value{}, false
	}
	return f.KVs[i], true
}

// Tensor finds a tensor by name.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.tIndex[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensors[i], true
}

// TensorData is the tensor's bytes in the file itself, never a copy; nil if t's data
// is not inside the file (a TensorInfo from elsewhere), its shape is invalid, or the
// file is closed.
func (f *File) TensorData(t TensorInfo) []byte {
	if checkShape(t.Type, t.Dims) != nil {
		return nil
	}
	n := t.Bytes()
	start, c1 := bits.Add64(f.DataOffset, t.Offset, 0)
	end, c2 := bits.Add64(start, n, 0)
	if c1 != 0 || c2 != 0 || end > uint64(len(f.data)) {
		return nil
	}
	return f.data[start:end:end]
}

// Mapped reports whether the file's bytes are a read-only mapping of a file on
// disk (from Open) rather than a slice given to Parse, which may be ordinary
// heap memory.
func (f *File) Mapped() bool { return f.mapped }

// Size is the size of the file in bytes.
func (f *File) Size() int64 { return int64(len(f.data)) }

func parse(data []byte) (*File, error) {
	d := &decoder{data: data, ctx: "header"}
	magic, err := d.take(4, "magic")
	if err != nil {
		return nil, err
	}
	if string(magic) != Magic {
		return nil, d.errorf("bad magic %q, want %q", magic, Magic)
	}
	version, err := d.u32("version")
	if err != nil {
		return nil, err
	}
	switch {
	case version == 2 || version == 3:
	case version == 1:
		return nil, d.errorf("version 1 is not supported (only 2 and 3)")
	case version&0xffff == 0 && bits.ReverseBytes32(version) <= 3:
		return nil, d.errorf("version %d is not supported (a big-endian file?)", version)
	default:
		return nil, d.errorf("version %d is not supported (only 2 and 3)", version)
	}
	tensorCount, err := d.u64("tensor count")
	if err != nil {
		return nil, err
	}
	kvCount, err := d.u64("kv count")
	if err != nil {
		return nil, err
	}
	left := uint64(d.remaining())
	if kvCount > left/minKVBytes {
		return nil, d.errorf("kv count %d is implausible for the %d bytes left", kvCount, left)
	}
	if tensorCount > (left-kvCount*minKVBytes)/minTensorBytes {
		return nil, d.errorf("tensor count %d is implausible for the %d bytes left after %d kvs", tensorCount, left, kvCount)
	}

	f := &File{
		Version:   version,
		KVs:       make([]Value, 0, kvCount),
		Tensors:   make([]TensorInfo, 0, tensorCount),
		Alignment: DefaultAlignment,
		data:      data,
		kvIndex:   make(map[string]int, kvCount),
		tIndex:    make(map[string]int, tensorCount),
	}
	for i := range kvCount {
		if err := f.readKV(d, i); err != nil {
			return nil, err
		}
	}
	if err := f.setAlignment(); err != nil {
		return nil, err
	}
	for i := range tensorCount {
		if err := f.readTensorInfo(d, i); err != nil {
			return nil, err
		}
	}
	f.DataOffset = alignUp(uint64(d.off), f.Alignment)
	if err := f.checkTensorData(); err != nil {
		return nil, err
	}
	return f, nil
}

func alignUp(off, alignment uint64) uint64 {
	return (off + alignment - 1) &^ (alignment - 1)
}

func (f *File) readKV(d *decoder, i uint64) error {
	d.ctx = fmt.Sprintf("kv %d", i)
	key, err := d.str("key")
	if err != nil {
		return err
	}
	d.ctx = fmt.Sprintf("key %q", key)
	if key == "" {
		return d.errorf("empty key")
	}
	if j, dup := f.kvIndex[key]; dup {
		return d.errorf("duplicate key (kvs %d and %d)", j, i)
	}
	t, err := d.u32("value type")
	if err != nil {
		return err
	}
	v, err := d.value(ValueType(t), 0)
	if err != nil {
		return err
	}
	v.Key = key
	f.kvIndex[key] = len(f.KVs)
	f.KVs = append(f.KVs, v)
	return nil
}

// setAlignment applies general.alignment: an unsigned integer, a power of two.
func (f *File) setAlignment() error {
	v, ok := f.Lookup(KeyAlignment)
	if !ok {
		return nil
	}
	switch v.Type {
	case ValueUint8, ValueUint16, ValueUint32, ValueUint64:
	default:
		return fmt.Errorf("key %q: is %s, not an unsigned integer", KeyAlignment, v.typeName())
	}
	a, _ := v.Uint()
	if a == 0 || a&(a-1) != 0 {
		return fmt.Errorf("key %q: %d is not a power of two", KeyAlignment, a)
	}
	f.Alignment = a
	return nil
}

func (f *File) readTensorInfo(d *decoder, i uint64) error {
	d.ctx = fmt.Sprintf("tensor %d", i)
	name, err := d.str("name")
	if err != nil {
		return err
	}
	d.ctx = fmt.Sprintf("tensor %q", name)
	if name == "" {
		return d.errorf("empty name")
	}
	if j, dup := f.tIndex[name]; dup {
		return d.errorf("duplicate tensor name (tensors %d and %d)", j, i)
	}
	nDims, err := d.u32("n_dims")
	if err != nil {
		return err
	}
	if nDims < 1 || nDims > MaxDims {
		return d.errorf("n_dims %d is not in 1..%d", nDims, MaxDims)
	}
	t := TensorInfo{Name: name, Dims: make([]uint64, nDims)}
	for k := range t.Dims {
		if t.Dims[k], err = d.u64("dim"); err != nil {
			return err
		}
	}
	typ, err := d.u32("type")
	if err != nil {
		return err
	}
	t.Type = Type(typ)
	if t.Offset, err = d.u64("offset"); err != nil {
		return err
	}
	if err := checkShape(t.Type, t.Dims); err != nil {
		return d.errorf("%v", err)
	}
	if t.Offset%f.Alignment != 0 {
		return d.errorf("offset %d is not a multiple of the alignment %d", t.Offset, f.Alignment)
	}
	f.tIndex[name] = len(f.Tensors)
	f.Tensors = append(f.Tensors, t)
	return nil
}

// checkShape checks a tensor's type and dims: a known type, 1..4 dims each at least 1,
// a row length that is a multiple of the block size, and a size that fits 64 bits.
func checkShape(typ Type, dims []uint64) error {
	if !typ.Known() {
		return fmt.Errorf("unknown tensor type %d", uint32(typ))
	}
	if len(dims) < 1 || len(dims) > MaxDims {
		return fmt.Errorf("n_dims %d is not in 1..%d", len(dims), MaxDims)
	}
	n := uint64(1)
	for k, dim := range dims {
		if dim < 1 {
			return fmt.Errorf("dim %d is %d", k, dim)
		}
		hi, lo := bits.Mul64(n, dim)
		if hi != 0 {
			return fmt.Errorf("dims %v: element count overflows 64 bits", dims)
		}
		n = lo
	}
	if bs := uint64(typ.BlockSize()); dims[0]%bs != 0 {
		return fmt.Errorf("row length %d is not a multiple of %s's block size %d", dims[0], typ, bs)
	}
	if hi, _ := bits.Mul64(n/uint64(typ.BlockSize()), uint64(typ.BlockBytes())); hi != 0 {
		return fmt.Errorf("dims %v: size in bytes overflows 64 bits", dims)
	}
	return nil
}

// checkTensorData checks that every tensor's data lies inside the file and that no two
// tensors' data overlap.
func (f *File) checkTensorData() error {
	size := uint64(len(f.data))
	if len(f.Tensors) > 0 && f.DataOffset > size {
		return fmt.Errorf("data section at offset %d is past end of file (size %d)", f.DataOffset, size)
	}
	order := make([]int, len(f.Tensors))
	for i, t := range f.Tensors {
		order[i] = i
		if t.Offset > size-f.DataOffset {
			return fmt.Errorf("tensor %q: offset %d (absolute %d) is past end of file (size %d)",
				t.Name, t.Offset, f.DataOffset+t.Offset, size)
		}
		start := f.DataOffset + t.Offset
		if n := t.Bytes(); n > size-start {
			if end, carry := bits.Add64(start, n, 0); carry == 0 {
				return fmt.Errorf("tensor %q: data [%d, %d) past end of file (size %d)", t.Name, start, end, size)
			}
			return fmt.Errorf("tensor %q: data of %d bytes at %d past end of file (size %d)", t.Name, n, start, size)
		}
	}
	sort.Slice(order, func(a, b int) bool { return f.Tensors[order[a]].Offset < f.Tensors[order[b]].Offset })
	for k := 1; k < len(order); k++ {
		p, q := f.Tensors[order[k-1]], f.Tensors[order[k]]
		if q.Offset < p.Offset+p.Bytes() {
			return fmt.Errorf("tensors %q [%d, %d) and %q [%d, %d) overlap", p.Name, p.Offset, p.Offset+p.Bytes(),
				q.Name, q.Offset, q.Offset+q.Bytes())
		}
	}
	return nil
}
