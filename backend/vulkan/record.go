package vulkan

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/cgo/vk"
	"github.com/conveyor-llm/conveyor/shaders"
)

// span is bytes [lo, hi) of one VkBuffer.
type span struct {
	h      uint64
	lo, hi int64
}

func (s span) overlaps(t span) bool { return s.h == t.h && s.lo < t.hi && t.lo < s.hi }

// tracker holds what commands since the last barrier read and wrote, to decide
// where the next barrier goes. It is kept across submissions (a barrier's
// first scope covers earlier command buffers on the queue too).
type tracker struct {
	reads, writes []span
	// forceNext puts a barrier before the next command whatever it touches
	// (the start of a graph, which must not depend on what ran before it).
	forceNext bool
}

func anyOverlap(list []span, s span) bool {
	for _, t := range list {
		if t.overlaps(s) {
			return true
		}
	}
	return false
}

// barrier reports whether a command with these reads and writes must wait
// for earlier ones (read after write, write after write or after read), and
// records them.
func (t *tracker) barrier(reads, writes []span) bool {
	need := t.forceNext
	t.forceNext = false
	for _, r := range reads {
		need = need || anyOverlap(t.writes, r)
	}
	for _, w := range writes {
		need = need || anyOverlap(t.writes, w) || anyOverlap(t.reads, w)
	}
	if need {
		t.reads, t.writes = t.reads[:0], t.writes[:0]
	}
	t.reads = append(t.reads, reads...)
	t.writes = append(t.writes, writes...)
	return need
}

// pipeKey names a pipeline: a shader and its specialization constants.
type pipeKey struct {
	name string
	spec [7]uint32
}

// shaderLayouts gives each shader's number of bindings and push-constant bytes.
var shaderLayouts = map[string][2]int{
	"get_rows":      {3, 32},
	"quantize":      {2, 24},
	"matmul":        {9, 76},
	"matmul_sg":     {9, 76},
	"matmul_dot":    {9, 76},
	"matmul_sg_dot": {9, 76},
	"rms_norm":      {4, 36},
	"elementwise":   {3, 24},
	"layer_norm":    {4, 28},
	"rope":          {3, 60},
	"rope_kv":       {5, 72},
	"swiglu_quant":  {4, 32},
	"kv_write":      {3, 28},
	"argmax":        {2, 16},
	"topk":          {2, 20},
	"attention":     {7 + 2*maxKVWindows, 80},
	"attention_sg":  {7 + 2*maxKVWindows, 80},
}

// pipeline returns the pipeline for a shader with spec constants, creating
// it on first use; it lives as long as the backend.
func (b *Backend) pipeline(name string, spec ...uint32) *vk.Pipeline {
	k := pipeKey{name: name}
	copy(k.spec[:], spec)
	if p := b.pipes[k]; p != nil {
		return p
	}
	layout, ok := shaderLayouts[name]
	if !ok {
		panic("vulkan: unknown shader " + name)
	}
	p, err := b.dev.NewPipeline(shaders.MustSPV(name), layout[0], layout[1], k.spec[:len(spec)])
	if err != nil {
		panic(fmt.Sprintf("vulkan: pipeline %s%v: %v", name, spec, err))
	}
	b.pipes[k] = p
	if b.prof.on {
		b.prof.names[p] = k
	}
	return p
}

// push packs push constants: uint32 and float32 values in order.
type push []byte

func (p push) u(vs ...uint32) push {
	for _, v := range vs {
		p = binary.LittleEndian.AppendUint32(p, v)
	}
	return p
}

func (p push) f(v float32) push { return p.u(math.Float32bits(v)) }

// dispatch records a dispatch, with a barrier first when it depends on
// earlier commands.
func (b *Backend) dispatch(p *vk.Pipeline, views []view, writes []int, pc push, x, y uint32) {
	if x == 0 || y == 0 {
		return
	}
	binds := make([]vk.Binding, len(views))
	var rs, ws []span
	for i, v := range views {
		binds[i] = v.bind
		isWrite := false
		for _, w := range writes {
			isWrite = isWrite || w == i
		}
		if isWrite {
			ws = append(ws, v.bound)
			b.noteWrite(v.span)
		} else {
			rs = append(rs, v.bound)
		}
	}
	b.recording()
	bar := b.hz.barrier(rs, ws)
	b.count(bar)
	b.stats.Dispatches++
	b.cmds.Dispatch(p, binds, pc, x, y, 1, bar)
	if b.prof.on {
		b.profiled(b.profileLabel(p, y))
		return
	}
	b.maybeFlush()
}

// grid spreads groups over x and y (each at most 65535).
func grid(groups int) (uint32, uint32) {
	if groups <= 65535 {
		return uint32(groups), 1
	}
	return 65535, uint32((groups + 65534) / 65535)
}

func (b *Backend) maybeFlush() {
	limit := flushAfter
	if b.replay.capture != nil {
		limit = maxGraphCommands // a graph is one command buffer
	}
	if b.cmds.Len() >= limit {
		b.flush()
	}
}

// recording notes the start of host recording: the first command since the
// last submit.
func (b *Backend) recording() {
	if b.recStart.IsZero() {
		b.recStart = time.Now()
	}
}

// count counts a barrier.
func (b *Backend) count(barrier bool) {
	if barrier {
		b.stats.Barriers++
	}
}

// Counters reports the work recorded since the backend was made.
func (b *Backend) Counters() backend.Counters { return b.stats }

// flush submits the recorded commands, after the command buffers queued
// by replay, without waiting. It ends a capture in progress.
func (b *Backend) flush() {
	b.abandonCapture()
	if b.cmds.Len() == 0 && len(b.replay.chain) == 0 {
		return
	}
	b.recording()
	s, err := b.dev.Submit(&b.cmds, b.replay.chain...)
	b.cmds.Reset()
	b.resetFusion()
	b.replay.chain = b.replay.chain[:0]
	b.stats.Submits++
	b.stats.RecordNanos += int64(time.Since(b.recStart))
	b.recStart = time.Time{}
	if err != nil {
		if b.err == nil {
			b.err = err
		}
		return
	}
	b.pending = append(b.pending, s)
}

// sync submits everything and waits for it; staging and deferred frees are
// then reusable.
func (b *Backend) sync() error {
	b.flush()
	var err error
	for _, s := range b.pending {
		if e := b.dev.Wait(s); e != nil && err == nil {
			err = e
		}
	}
	b.pending = b.pending[:0]
	b.landed()
	for _, d := range b.deferred {
		b.memoryReleased()
		b.dev.FreeBuffer(d)
	}
	b.deferred = b.deferred[:0]
	b.stagingUsed = 0
	return err
}

// stage returns n bytes of host-visible memory valid until the next sync:
// from the staging arena, or a buffer of its own for large transfers.
func (b *Backend) stage(n int64) (*vk.Buffer, int64, error) {
	if b.staging == nil {
		s, err := b.dev.NewBuffer(stagingSize, true)
		if err != nil {
			return nil, 0, fmt.Errorf("vulkan: staging buffer: %w", err)
		}
		b.staging = s
	}
	n = (n + 15) &^ 15
	if n > stagingSize/2 {
		s, err := b.dev.NewBuffer(n, true)
		if err != nil {
			return nil, 0, fmt.Errorf("vulkan: staging buffer: %w", err)
		}
		b.deferred = append(b.deferred, s)
		return s, 0, nil
	}
	if b.stagingUsed+n > stagingSize {
		if err := b.sync(); err != nil {
			return nil, 0, err
		}
	}
	off := b.stagingUsed
	b.stagingUsed += n
	return b.staging, off, nil
}

// pieces calls f for each part of t's bytes that lies in one chunk.
func (b *Backend) pieces(t backend.Tensor, f func(c *vk.Buffer, off, rel, n int64)) {
	m, ok := t.Buf.(*buffer)
	if !ok || m.chunks == nil {
		panic(fmt.Sprintf("vulkan: tensor %v is not in a live Vulkan buffer", t))
	}
	for rel := int64(0); rel < t.Bytes(); {
		pos := t.Offset + rel
		i := pos / m.chunk
		off := pos - i*m.chunk
		n := min(t.Bytes()-rel, m.chunk-off)
		f(m.chunks[i], off, rel, n)
		rel += n
	}
}

func (b *Backend) checkIO(t backend.Tensor, n int) error {
	m, ok := t.Buf.(*buffer)
	if !ok || m.chunks == nil {
		return fmt.Errorf("vulkan: tensor %v is not in a live Vulkan buffer", t)
	}
	if int64(n) != t.Bytes() {
		return fmt.Errorf("vulkan: %d bytes for %v of %d bytes", n, t, t.Bytes())
	}
	if t.Offset < 0 || t.Offset+t.Bytes() > m.size {
		return fmt.Errorf("vulkan: tensor %v at %d overruns its buffer of %d bytes", t, t.Offset, m.size)
	}
	return nil
}

// Write copies data into t through host-visible staging memory, ordered
// after the ops recorded before it.
func (b *Backend) Write(t backend.Tensor, data []byte) error {
	if err := b.checkIO(t, len(data)); err != nil {
		return err
	}
	if len(data) == 0 {
		return nil
	}
	b.abandonCapture() // a graph replays commands, not the data they copy
	t.Buf.(*buffer).forgetPacked(t.Offset, t.Offset+t.Bytes())
	if b.writeDirect(t, data) {
		return nil
	}
	// Through the staging arena a piece at a time: a large upload (a model's
	// weights) needs no staging memory of its size, only waits when the arena
	// fills.
	var err error
	b.pieces(t, func(c *vk.Buffer, off, rel, n int64) {
		for done := int64(0); done < n && err == nil; done += writePiece {
			m := min(writePiece, n-done)
			var st *vk.Buffer
			var soff int64
			if st, soff, err = b.stage(m); err != nil {
				return
			}
			copy(st.Bytes()[soff:], data[rel+done:rel+done+m])
			dst := span{c.Handle, off + done, off + done + m}
			b.noteWrite(dst)
			b.recording()
			bar := b.hz.barrier([]span{{st.Handle, soff, soff + m}}, []span{dst})
			b.count(bar)
			b.cmds.Copy(st.Handle, uint64(soff), c.Handle, uint64(off+done), uint64(m), bar)
			b.maybeFlush()
		}
	})
	return err
}

// directWriteMax bounds the writes writeDirect takes: a step's inputs.
const directWriteMax = 64 << 10

// writeDirect copies a small write straight into t's memory, with no staging
// copy and no command, where the host can map that memory (host-visible and
// coherent: lavapipe, integrated GPUs) and nothing recorded, queued or in
// flight can touch it; the next submission makes the write visible to its
// commands. This is how a replayed decode step's inputs arrive: the previous
// step's read left the device idle.
func (b *Backend) writeDirect(t backend.Tensor, data []byte) bool {
	n := int64(len(data))
	if n > directWriteMax || b.replay.capture != nil || b.cmds.Len() > 0 || len(b.replay.chain) > 0 || len(b.pending) > 0 {
		return false
	}
	m := t.Buf.(*buffer)
	i := t.Offset / m.chunk
	off := t.Offset - i*m.chunk
	if off+n > m.chunk {
		return false
	}
	mem := b.dev.HostView(m.chunks[i])
	if mem == nil {
		return false
	}
	b.recording()
	copy(mem[off:off+n], data)
	b.noteWrite(span{m.chunks[i].Handle, off, off + n})
	return true
}

// Read submits every recorded op, waits, and copies t into dst.
func (b *Backend) Read(t backend.Tensor, dst []byte) error {
	if err := b.checkIO(t, len(dst)); err != nil {
		return err
	}
	if b.err != nil {
		err := b.err
		b.err = nil
		return err
	}
	if len(dst) == 0 {
		return b.sync()
	}
	st, soff, err := b.stage(int64(len(dst)))
	if err != nil {
		return err
	}
	b.pieces(t, func(c *vk.Buffer, off, rel, n int64) {
		src := span{c.Handle, off, off + n}
		b.recording()
		bar := b.hz.barrier([]span{src}, []span{{st.Handle, soff + rel, soff + rel + n}})
		b.count(bar)
		b.cmds.Copy(c.Handle, uint64(off), st.Handle, uint64(soff+rel), uint64(n), bar)
	})
	own := st != b.staging
	if own {
		b.deferred = b.deferred[:len(b.deferred)-1] // freed below, after the copy
		defer b.dev.FreeBuffer(st)
	}
	if err := b.sync(); err != nil {
		return err
	}
	copy(dst, st.Bytes()[soff:soff+int64(len(dst))])
	b.stats.ReadbackBytes += int64(len(dst))
	return unpackRead(t, dst)
}
