package vulkan

import (
	"fmt"
	"strings"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// The KV cache. A layer's K (or V) cache is one tensor of sequences ×
// context rows, often larger than one binding (maxStorageBufferRange: 128
// MiB on lavapipe, 4 GiB on most GPUs). KVWrite and Attend see it through
// windows of whole rows, each one binding: KVWrite dispatches once per
// window, and the attention shader takes up to maxKVWindows of them and
// finds row r in window r / rowsPerWin. A window's byte count is a multiple
// of the binding alignment, so every window's data starts at the same
// offset from its binding's start.

// maxKVWindows is how many bindings the attention shader reads a K or V
// cache through; a cache needs at most that many.
const maxKVWindows = 5

// kvTypes are the cache types KVWrite and Attend take.
var kvTypes = []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0}

// CheckKVTypes refuses keys and values of different types: the attention
// shader reads both caches as one type (a specialization constant), through
// windows of the same rows.
func (b *Backend) CheckKVTypes(k, v gguf.Type) error {
	if k != v {
		return fmt.Errorf("the vulkan backend reads keys and values of one cache type, not %s keys with %s values (give both one type, or use the cpu backend)",
			strings.ToLower(k.String()), strings.ToLower(v.String()))
	}
	return nil
}

// kvWindows are a cache's windows: views of rowsPerWin rows (the last may
// have fewer), each starting skip bytes into its binding.
type kvWindows struct {
	views      []view
	rowsPerWin int
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// MaxKVBytes is the largest K or V cache, in bytes, that KVWrite and Attend
// take: maxKVWindows bindings' worth of rows of rowBytes, and one allocation
// (windows do not cross allocations).
func (b *Backend) MaxKVBytes(rowBytes int64) int64 {
	if rowBytes <= 0 {
		return 0
	}
	per := b.kvRowsPerWindow(rowBytes)
	return min(max(per, 0)*rowBytes*maxKVWindows, b.maxAlloc)
}

// kvRowsPerWindow is the most rows of rowBytes one window holds: whole rows
// in one binding, their bytes a multiple of the binding alignment.
func (b *Backend) kvRowsPerWindow(rowBytes int64) int64 {
	unit := b.align / gcd(rowBytes, b.align)
	per := (b.maxRange - b.align - 8) / rowBytes
	return per / unit * unit
}

// kvWindows splits cache c into windows (one when it fits a binding).
func (b *Backend) kvWindows(op string, c backend.Tensor) kvWindows {
	rowBytes := c.RowBytes()
	if c.Bytes()+b.align+8 <= b.maxRange {
		return kvWindows{views: []view{b.bind(c)}, rowsPerWin: max(c.Rows, 1)}
	}
	per := b.kvRowsPerWindow(rowBytes)
	if per < 1 {
		panic(fmt.Sprintf("vulkan: %s: a cache row of %d bytes does not fit a %d-byte binding", op, rowBytes, b.maxRange))
	}
	n := (int64(c.Rows) + per - 1) / per
	if n > maxKVWindows {
		panic(fmt.Sprintf("vulkan: %s: a KV cache of %d rows of %d bytes needs %d bindings of %d bytes; attention reads at most %d (use a shorter context or fewer sequences)",
			op, c.Rows, rowBytes, n, b.maxRange, maxKVWindows))
	}
	w := kvWindows{rowsPerWin: int(per)}
	for lo := int64(0); lo < int64(c.Rows); lo += per {
		rows := min(per, int64(c.Rows)-lo)
		v := b.bindRange(c, lo*rowBytes, rows*rowBytes)
		if len(w.views) > 0 && v.skip != w.views[0].skip {
			panic(fmt.Sprintf("vulkan: %s: cache %v windows start %d and %d bytes into their bindings", op, c, w.views[0].skip, v.skip))
		}
		w.views = append(w.views, v)
	}
	return w
}

// KVWrite copies src row i into cache row rows[i], converting to the cache's
// type (F32, F16, or Q8_0 and Q4_0 with ggml's reference quantizers).
func (b *Backend) KVWrite(cache, src, rows backend.Tensor) {
	mustType("KVWrite", cache, kvTypes...)
	mustType("KVWrite", src, gguf.TypeF32)
	mustType("KVWrite", rows, gguf.TypeI32)
	if rows.Rows != 1 {
		panic(fmt.Sprintf("vulkan: KVWrite: rows %v must be one row", rows))
	}
	mustShape("KVWrite", src, rows.Cols, cache.Cols)
	if cache.Type == gguf.TypeF16 && cache.Cols%2 != 0 || cache.Cols%cache.Type.BlockSize() != 0 {
		panic(fmt.Sprintf("vulkan: KVWrite: cache %v: columns not a whole number of words or blocks", cache))
	}
	n := rows.Cols
	if n == 0 {
		return
	}
	sv, rv := b.bind(src), b.bind(rows)
	units := cache.Cols // invocations per row: words, or blocks
	switch cache.Type {
	case gguf.TypeF16:
		units = cache.Cols / 2
	case gguf.TypeQ8_0, gguf.TypeQ4_0:
		units = cache.Cols / 32
	}
	win := b.kvWindows("KVWrite", cache)
	if len(win.views) == 1 && b.kvWriteInRoPE(cache, win.views[0], sv, rv) {
		return
	}
	for w, cv := range win.views {
		lo := w * win.rowsPerWin
		hi := lo + int(cv.bytes/cache.RowBytes())
		pc := push{}.u(sv.words(), rv.words(), uint32(cv.skip), uint32(cache.Cols), uint32(n), uint32(lo), uint32(hi))
		b.dispatch(b.pipeline("kv_write", uint32(cache.Type)), []view{sv, rv, cv}, []int{2}, pc, ceil(units, 256), uint32(n))
	}
}
