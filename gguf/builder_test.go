package gguf

import (
	"encoding/binary"
)

// fileBuilder writes GGUF bytes field by field, so that tests can build files the
// Writer refuses to write.
type fileBuilder struct{ b []byte }

func newFile(version uint32, tensors, kvs uint64) *fileBuilder {
	g := &fileBuilder{b: []byte(Magic)}
	return g.u32(version).u64(tensors).u64(kvs)
}

func (g *fileBuilder) raw(p ...byte) *fileBuilder { g.b = append(g.b, p...); return g }

func (g *fileBuilder) u32(x uint32) *fileBuilder {
	g.b = binary.LittleEndian.AppendUint32(g.b, x)
	return g
}

func (g *fileBuilder) u64(x uint64) *fileBuilder {
	g.b = binary.LittleEndian.AppendUint64(g.b, x)
	return g
}

func (g *fileBuilder) str(s string) *fileBuilder { return g.u64(uint64(len(s))).raw([]byte(s)...) }

// kv writes a key and value type; the test appends the value.
func (g *fileBuilder) kv(key string, t ValueType) *fileBuilder { return g.str(key).u32(uint32(t)) }

func (g *fileBuilder) tensor(name string, dims []uint64, typ Type, offset uint64) *fileBuilder {
	g.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		g.u64(d)
	}
	return g.u32(uint32(typ)).u64(offset)
}

// pad appends zeros up to a multiple of align.
func (g *fileBuilder) pad(align int) *fileBuilder {
	for len(g.b)%align != 0 {
		g.b = append(g.b, 0)
	}
	return g
}

// zeros appends n zero bytes (tensor data).
func (g *fileBuilder) zeros(n int) *fileBuilder { g.b = append(g.b, make([]byte, n)...); return g }

func (g *fileBuilder) bytes() []byte { return g.b }
