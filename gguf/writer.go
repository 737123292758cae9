package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"unicode/utf8"
)

// MaxNameBytes is the longest tensor name the spec allows.
const MaxNameBytes = 64

// Writer builds a GGUF v3 file: metadata in insertion order, then tensors in insertion
// order, each tensor's data aligned to general.alignment (32 unless set with AddKV).
// Tensor data given to AddTensor is kept, not copied, until WriteTo.
type Writer struct {
	kvs       [][]byte // each KV encoded: key, value type, value
	keys      map[string]bool
	tensors   []writerTensor
	names     map[string]bool
	alignment uint64
}

type writerTensor struct {
	info  TensorInfo
	data  []byte
	write func(io.Writer) error
}

// NewWriter starts an empty file.
func NewWriter() *Writer {
	return &Writer{keys: map[string]bool{}, names: map[string]bool{}, alignment: DefaultAlignment}
}

// AddKV adds a metadata pair. value is a Go uint8, int8, uint16, int16, uint32, int32,
// uint64, int64, float32, float64, bool or string; a slice of one of those (an array);
// a slice of slices, or an []any of slices (an array of arrays); or a Value, e.g. one
// read from another file. Go's int and uint are refused: GGUF needs the size spelled out.
func (w *Writer) AddKV(key string, value any) error {
	if key == "" {
		return errors.New("gguf: AddKV: empty key")
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("gguf: key %q: not valid UTF-8", key)
	}
	if w.keys[key] {
		return fmt.Errorf("gguf: key %q: duplicate key", key)
	}
	v, err := valueOf(value, 0)
	if err != nil {
		return fmt.Errorf("gguf: key %q: %w", key, err)
	}
	v.Key = key
	if key == KeyAlignment {
		switch v.Type {
		case ValueUint8, ValueUint16, ValueUint32, ValueUint64:
		default:
			return fmt.Errorf("gguf: key %q: is %s, not an unsigned integer", key, v.typeName())
		}
		a, _ := v.Uint()
		if a == 0 || a&(a-1) != 0 {
			return fmt.Errorf("gguf: key %q: %d is not a power of two", key, a)
		}
		w.alignment = a
	}
	b := appendString(nil, key)
	b = binary.LittleEndian.AppendUint32(b, uint32(v.Type))
	if b, err = appendValue(b, v, 0); err != nil {
		return fmt.Errorf("gguf: key %q: %w", key, err)
	}
	w.keys[key] = true
	w.kvs = append(w.kvs, b)
	return nil
}

// valueOf converts a Go value to a Value; depth counts the arrays it sits in.
func valueOf(x any, depth int) (Value, error) {
	scalar := func(t ValueType) (Value, error) { return Value{Type: t, v: x}, nil }
	array := func(t ValueType) (Value, error) { return Value{Type: ValueArray, elem: t, v: x}, nil }
	switch x := x.(type) {
	case Value:
		return x, nil
	case uint8:
		return scalar(ValueUint8)
	case int8:
		return scalar(ValueInt8)
	case uint16:
		return scalar(ValueUint16)
	case int16:
		return scalar(ValueInt16)
	case uint32:
		return scalar(ValueUint32)
	case int32:
		return scalar(ValueInt32)
	case uint64:
		return scalar(ValueUint64)
	case int64:
		return scalar(ValueInt64)
	case float32:
		return scalar(ValueFloat32)
	case float64:
		return scalar(ValueFloat64)
	case bool:
		return scalar(ValueBool)
	case string:
		return scalar(ValueString)
	case []uint8:
		return array(ValueUint8)
	case []int8:
		return array(ValueInt8)
	case []uint16:
		return array(ValueUint16)
	case []int16:
		return array(ValueInt16)
	case []uint32:
		return array(ValueUint32)
	case []int32:
		return array(ValueInt32)
	case []uint64:
		return array(ValueUint64)
	case []int64:
		return array(ValueInt64)
	case []float32:
		return array(ValueFloat32)
	case []float64:
		return array(ValueFloat64)
	case []bool:
		return array(ValueBool)
	case []string:
		return array(ValueString)
	case int, uint:
		return Value{}, fmt.Errorf("type %T has no GGUF type; use a sized integer type", x)
	}
	rv := reflect.ValueOf(x)
	if rv.Kind() == reflect.Slice {
		if k := rv.Type().Elem().Kind(); k == reflect.Slice || k == reflect.Interface || rv.Type().Elem() == reflect.TypeOf(Value{}) {
			if depth+1 > MaxArrayDepth {
				return Value{}, fmt.Errorf("arrays nested more than %d deep", MaxArrayDepth)
			}
			elems := make([]Value, rv.Len())
			for i := range elems {
				e, err := valueOf(rv.Index(i).Interface(), depth+1)
				if err != nil {
					return Value{}, fmt.Errorf("element %d: %w", i, err)
				}
				if e.Type != ValueArray {
					return Value{}, fmt.Errorf("element %d is %s in an array of arrays", i, e.Type)
				}
				elems[i] = e
			}
			return Value{Type: ValueArray, elem: ValueArray, v: elems}, nil
		}
	}
	return Value{}, fmt.Errorf("type %T has no GGUF type", x)
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// appendValue encodes v without its type tag; depth counts the arrays it sits in.
func appendValue(b []byte, v Value, depth int) ([]byte, error) {
	le := binary.LittleEndian
	mismatch := func() ([]byte, error) {
		return nil, fmt.Errorf("%s value holds Go %T", v.typeName(), v.v)
	}
	ok := true
	switch v.Type {
	case ValueUint8:
		var x uint8
		x, ok = v.v.(uint8)
		b = append(b, x)
	case ValueInt8:
		var x int8
		x, ok = v.v.(int8)
		b = append(b, byte(x))
	case ValueUint16:
		var x uint16
		x, ok = v.v.(uint16)
		b = le.AppendUint16(b, x)
	case ValueInt16:
		var x int16
		x, ok = v.v.(int16)
		b = le.AppendUint16(b, uint16(x))
	case ValueUint32:
		var x uint32
		x, ok = v.v.(uint32)
		b = le.AppendUint32(b, x)
	case ValueInt32:
		var x int32
		x, ok = v.v.(int32)
		b = le.AppendUint32(b, uint32(x))
	case ValueFloat32:
		var x float32
		x, ok = v.v.(float32)
		b = le.AppendUint32(b, math.Float32bits(x))
	case ValueUint64:
		var x uint64
		x, ok = v.v.(uint64)
		b = le.AppendUint64(b, x)
	case ValueInt64:
		var x int64
		x, ok = v.v.(int64)
		b = le.AppendUint64(b, uint64(x))
	case ValueFloat64:
		var x float64
		x, ok = v.v.(float64)
		b = le.AppendUint64(b, math.Float64bits(x))
	case ValueBool:
		var x bool
		x, ok = v.v.(bool)
		b = append(b, boolByte(x))
	case ValueString:
		var s string
		if s, ok = v.v.(string); ok && !utf8.ValidString(s) {
			return nil, fmt.Errorf("string %q is not valid UTF-8", s)
		}
		b = appendString(b, s)
	case ValueArray:
		return appendArray(b, v, depth+1)
	default:
		return nil, fmt.Errorf("unknown value type %d", uint32(v.Type))
	}
	if !ok {
		return mismatch()
	}
	return b, nil
}

func boolByte(x bool) byte {
	if x {
		return 1
	}
	return 0
}

// appendArray encodes an array's element type, length and elements.
func appendArray(b []byte, v Value, depth int) ([]byte, error) {
	if depth > MaxArrayDepth {
		return nil, fmt.Errorf("arrays nested more than %d deep", MaxArrayDepth)
	}
	le := binary.LittleEndian
	b = le.AppendUint32(b, uint32(v.elem))
	b = le.AppendUint64(b, uint64(v.ArrayLen()))
	ok := true
	switch v.elem {
	case ValueUint8:
		var a []uint8
		a, ok = v.v.([]uint8)
		b = append(b, a...)
	case ValueInt8:
		var a []int8
		a, ok = v.v.([]int8)
		b = appendAll(b, a, func(b []byte, x int8) []byte { return append(b, byte(x)) })
	case ValueUint16:
		var a []uint16
		a, ok = v.v.([]uint16)
		b = appendAll(b, a, le.AppendUint16)
	case ValueInt16:
		var a []int16
		a, ok = v.v.([]int16)
		b = appendAll(b, a, func(b []byte, x int16) []byte { return le.AppendUint16(b, uint16(x)) })
	case ValueUint32:
		var a []uint32
		a, ok = v.v.([]uint32)
		b = appendAll(b, a, le.AppendUint32)
	case ValueInt32:
		var a []int32
		a, ok = v.v.([]int32)
		b = appendAll(b, a, func(b []byte, x int32) []byte { return le.AppendUint32(b, uint32(x)) })
	case ValueFloat32:
		var a []float32
		a, ok = v.v.([]float32)
		b = appendAll(b, a, func(b []byte, x float32) []byte { return le.AppendUint32(b, math.Float32bits(x)) })
	case ValueUint64:
		var a []uint64
		a, ok = v.v.([]uint64)
		b = appendAll(b, a, le.AppendUint64)
	case ValueInt64:
		var a []int64
		a, ok = v.v.([]int64)
		b = appendAll(b, a, func(b []byte, x int64) []byte { return le.AppendUint64(b, uint64(x)) })
	case ValueFloat64:
		var a []float64
		a, ok = v.v.([]float64)
		b = appendAll(b, a, func(b []byte, x float64) []byte { return le.AppendUint64(b, math.Float64bits(x)) })
	case ValueBool:
		var a []bool
		a, ok = v.v.([]bool)
		b = appendAll(b, a, func(b []byte, x bool) []byte { return append(b, boolByte(x)) })
	case ValueString:
		var a []string
		a, ok = v.v.([]string)
		for i, s := range a {
			if !utf8.ValidString(s) {
				return nil, fmt.Errorf("element %d: string %q is not valid UTF-8", i, s)
			}
			b = appendString(b, s)
		}
	case ValueArray:
		var a []Value
		a, ok = v.v.([]Value)
		for i, e := range a {
			if e.Type != ValueArray {
				return nil, fmt.Errorf("element %d is %s in an array of arrays", i, e.Type)
			}
			var err error
			if b, err = appendArray(b, e, depth+1); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("unknown array element type %d", uint32(v.elem))
	}
	if !ok {
		return nil, fmt.Errorf("%s value holds Go %T", v.typeName(), v.v)
	}
	return b, nil
}

func appendAll[T any](b []byte, a []T, put func([]byte, T) []byte) []byte {
	for _, x := range a {
		b = put(b, x)
	}
	return b
}

// AddTensor adds a tensor whose data, exactly its size in bytes, is in data.
func (w *Writer) AddTensor(name string, typ Type, dims []uint64, data []byte) error {
	t, err := w.newTensor(name, typ, dims)
	if err != nil {
		return err
	}
	if uint64(len(data)) != t.Bytes() {
		return fmt.Errorf("gguf: tensor %q: %d bytes of data, want %d for %s %v", name, len(data), t.Bytes(), typ, dims)
	}
	w.addTensor(writerTensor{info: t, data: data})
	return nil
}

// AddTensorFunc adds a tensor whose data write produces during WriteTo; it must write
// exactly the tensor's size in bytes.
func (w *Writer) AddTensorFunc(name string, typ Type, dims []uint64, write func(io.Writer) error) error {
	t, err := w.newTensor(name, typ, dims)
	if err != nil {
		return err
	}
	if write == nil {
		return fmt.Errorf("gguf: tensor %q: nil write func", name)
	}
	w.addTensor(writerTensor{info: t, write: write})
	return nil
}

func (w *Writer) newTensor(name string, typ Type, dims []uint64) (TensorInfo, error) {
	switch {
	case name == "":
		return TensorInfo{}, errors.New("gguf: tensor with an empty name")
	case !utf8.ValidString(name):
		return TensorInfo{}, fmt.Errorf("gguf: tensor %q: name is not valid UTF-8", name)
	case len(name) > MaxNameBytes:
		return TensorInfo{}, fmt.Errorf("gguf: tensor %q: name longer than %d bytes", name, MaxNameBytes)
	case w.names[name]:
		return TensorInfo{}, fmt.Errorf("gguf: tensor %q: duplicate tensor name", name)
	}
	if err := checkShape(typ, dims); err != nil {
		return TensorInfo{}, fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	return TensorInfo{Name: name, Type: typ, Dims: append([]uint64(nil), dims...)}, nil
}

func (w *Writer) addTensor(t writerTensor) {
	w.names[t.info.Name] = true
	w.tensors = append(w.tensors, t)
}

// WriteTo writes the file: header, metadata, tensor infos, padding, then each tensor's
// data at its aligned offset.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	cw := &countingWriter{w: out}
	bw := bufio.NewWriterSize(cw, 1<<20)
	le := binary.LittleEndian

	// Lay out the data section.
	var end uint64
	for i := range w.tensors {
		t := &w.tensors[i].info
		t.Offset = alignUp(end, w.alignment)
		end = t.Offset + t.Bytes()
	}

	head := []byte(Magic)
	head = le.AppendUint32(head, 3)
	head = le.AppendUint64(head, uint64(len(w.tensors)))
	head = le.AppendUint64(head, uint64(len(w.kvs)))
	for _, kv := range w.kvs {
		head = append(head, kv...)
	}
	for _, wt := range w.tensors {
		t := wt.info
		head = appendString(head, t.Name)
		head = le.AppendUint32(head, uint32(len(t.Dims)))
		for _, d := range t.Dims {
			head = le.AppendUint64(head, d)
		}
		head = le.AppendUint32(head, uint32(t.Type))
		head = le.AppendUint64(head, t.Offset)
	}
	dataOffset := alignUp(uint64(len(head)), w.alignment)
	head = append(head, make([]byte, dataOffset-uint64(len(head)))...)
	if _, err := bw.Write(head); err != nil {
		return cw.n, err
	}

	pos := uint64(0) // within the data section
	for _, wt := range w.tensors {
		t := wt.info
		if err := writeZeros(bw, t.Offset-pos); err != nil {
			return cw.n, err
		}
		if wt.write == nil {
			if _, err := bw.Write(wt.data); err != nil {
				return cw.n, err
			}
		} else {
			ew := &exactWriter{w: bw, left: t.Bytes()}
			if err := wt.write(ew); err != nil {
				return cw.n, fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
			}
			if ew.left != 0 {
				return cw.n, fmt.Errorf("gguf: tensor %q: write func wrote %d of %d bytes", t.Name, t.Bytes()-ew.left, t.Bytes())
			}
		}
		pos = t.Offset + t.Bytes()
	}
	err := bw.Flush()
	return cw.n, err
}

func writeZeros(w io.Writer, n uint64) error {
	var zeros [256]byte
	for n > 0 {
		k := min(n, uint64(len(zeros)))
		if _, err := w.Write(zeros[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// exactWriter passes on at most left bytes and refuses more.
type exactWriter struct {
	w    io.Writer
	left uint64
}

func (e *exactWriter) Write(p []byte) (int, error) {
	if uint64(len(p)) > e.left {
		return 0, fmt.Errorf("write func wrote more than the tensor's size (%d bytes too many)", uint64(len(p))-e.left)
	}
	n, err := e.w.Write(p)
	e.left -= uint64(n)
	return n, err
}

// WriteFile writes the file to a temporary file beside path, then renames it into place,
// so that path never holds a half-written file.
func (w *Writer) WriteFile(path string) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			if strings.HasPrefix(err.Error(), "gguf: ") {
				err = fmt.Errorf("%w (writing %s)", err, path)
			} else {
				err = fmt.Errorf("gguf: %s: %w", path, err)
			}
		}
	}()
	if _, err = w.WriteTo(tmp); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
