package vk

/*
#include <stdlib.h>
#include <string.h>
#include "cv.h"
*/
import "C"

import (
	"fmt"
	"time"
	"unsafe"
)

// MaxBindings and MaxPush bound a dispatch's storage buffers and push-constant bytes.
const (
	MaxBindings = C.CV_MAX_BIND
	MaxPush     = C.CV_MAX_PUSH
)

// Pipeline is a compute pipeline whose storage buffers 0..Bindings-1 are set
// with push descriptors.
type Pipeline struct {
	handle, layout, dsl, module uint64
	Bindings, PushSize          int
}

// NewPipeline builds a compute pipeline from SPIR-V with entry point "main".
// spec[i] is the value of specialization constant i (32-bit each).
func (d *Device) NewPipeline(spv []byte, bindings, pushSize int, spec []uint32) (*Pipeline, error) {
	if len(spv) == 0 || len(spv)%4 != 0 {
		return nil, fmt.Errorf("vk: SPIR-V of %d bytes", len(spv))
	}
	if bindings > MaxBindings || pushSize > MaxPush || pushSize%4 != 0 || len(spec) > 32 {
		return nil, fmt.Errorf("vk: pipeline with %d bindings, %d push bytes, %d constants", bindings, pushSize, len(spec))
	}
	code := C.CBytes(spv) // aligned C copy
	defer C.free(code)
	var specp *C.uint32_t
	if len(spec) > 0 {
		cs := (*C.uint32_t)(C.malloc(C.size_t(4 * len(spec))))
		defer C.free(unsafe.Pointer(cs))
		copy(unsafe.Slice((*uint32)(unsafe.Pointer(cs)), len(spec)), spec)
		specp = cs
	}
	var pipe C.VkPipeline
	var layout C.VkPipelineLayout
	var dsl C.VkDescriptorSetLayout
	var mod C.VkShaderModule
	r := C.cv_create_pipeline(d.c, code, C.size_t(len(spv)), C.uint32_t(bindings), C.uint32_t(pushSize),
		specp, C.uint32_t(len(spec)), &pipe, &layout, &dsl, &mod)
	if err := check("create compute pipeline", r); err != nil {
		return nil, err
	}
	return &Pipeline{uint64(pipe), uint64(layout), uint64(dsl), uint64(mod), bindings, pushSize}, nil
}

// DestroyPipeline releases p; the GPU must be done with it.
func (d *Device) DestroyPipeline(p *Pipeline) {
	if p == nil || p.handle == 0 {
		return
	}
	C.cv_destroy_pipeline(d.c, C.VkPipeline(p.handle), C.VkPipelineLayout(p.layout),
		C.VkDescriptorSetLayout(p.dsl), C.VkShaderModule(p.module))
	*p = Pipeline{}
}

// Binding is a storage buffer range [Offset, Offset+Range) of a buffer.
type Binding struct {
	Buffer        uint64 // Buffer.Handle
	Offset, Range uint64
}

// Commands is a list of commands recorded on the Go side, submitted in one call.
type Commands struct {
	cmds []C.cv_cmd
}

// Len is the number of commands recorded.
func (c *Commands) Len() int { return len(c.cmds) }

// Reset empties the list, keeping its storage.
func (c *Commands) Reset() { c.cmds = c.cmds[:0] }

func (c *Commands) add(kind C.uint32_t, barrier bool) *C.cv_cmd {
	c.cmds = append(c.cmds, C.cv_cmd{})
	cmd := &c.cmds[len(c.cmds)-1]
	cmd.kind = kind
	if barrier {
		cmd.barrier = 1
	}
	return cmd
}

// Dispatch records a dispatch of p with the given bindings and push constants
// over x*y*z workgroups, after a full memory barrier when barrier is true.
func (c *Commands) Dispatch(p *Pipeline, binds []Binding, push []byte, x, y, z uint32, barrier bool) {
	if len(binds) != p.Bindings || len(push) > p.PushSize {
		panic(fmt.Sprintf("vk: dispatch with %d bindings and %d push bytes on a pipeline of %d and %d",
			len(binds), len(push), p.Bindings, p.PushSize))
	}
	cmd := c.add(C.CV_CMD_DISPATCH, barrier)
	cmd.pipeline = C.uint64_t(p.handle)
	cmd.layout = C.uint64_t(p.layout)
	cmd.nbind = C.uint32_t(len(binds))
	for i, b := range binds {
		cmd.buf[i] = C.uint64_t(b.Buffer)
		cmd.off[i] = C.uint64_t(b.Offset)
		cmd._range[i] = C.uint64_t(b.Range)
	}
	cmd.push_size = C.uint32_t(p.PushSize)
	for i, v := range push {
		cmd.push[i] = C.uint8_t(v)
	}
	cmd.groups = [3]C.uint32_t{C.uint32_t(x), C.uint32_t(y), C.uint32_t(z)}
}

// AmendDispatch replaces the pipeline, bindings and push constants of
// dispatch i, keeping its workgroups and barrier (a fused op takes over the
// dispatch of the op it absorbs).
func (c *Commands) AmendDispatch(i int, p *Pipeline, binds []Binding, push []byte) {
	c.AmendDispatchGroups(i, p, binds, push, 0, 0)
}

// AmendDispatchGroups is AmendDispatch with x by y workgroups (0, 0: as
// before).
func (c *Commands) AmendDispatchGroups(i int, p *Pipeline, binds []Binding, push []byte, x, y uint32) {
	if i < 0 || i >= len(c.cmds) || c.cmds[i].kind != C.CV_CMD_DISPATCH || len(binds) != p.Bindings || len(push) > p.PushSize {
		panic(fmt.Sprintf("vk: amending command %d of %d with %d bindings and %d push bytes", i, len(c.cmds), len(binds), len(push)))
	}
	cmd := &c.cmds[i]
	cmd.pipeline = C.uint64_t(p.handle)
	cmd.layout = C.uint64_t(p.layout)
	cmd.nbind = C.uint32_t(len(binds))
	for j, b := range binds {
		cmd.buf[j] = C.uint64_t(b.Buffer)
		cmd.off[j] = C.uint64_t(b.Offset)
		cmd._range[j] = C.uint64_t(b.Range)
	}
	cmd.push_size = C.uint32_t(p.PushSize)
	for j, v := range push {
		cmd.push[j] = C.uint8_t(v)
	}
	if x > 0 && y > 0 {
		cmd.groups = [3]C.uint32_t{C.uint32_t(x), C.uint32_t(y), 1}
	}
}

// Copy records a buffer-to-buffer copy of size bytes.
func (c *Commands) Copy(src uint64, srcOff uint64, dst uint64, dstOff uint64, size uint64, barrier bool) {
	cmd := c.add(C.CV_CMD_COPY, barrier)
	cmd.buf[0], cmd.buf[1] = C.uint64_t(src), C.uint64_t(dst)
	cmd.off[0], cmd.off[1] = C.uint64_t(srcOff), C.uint64_t(dstOff)
	cmd._range[0] = C.uint64_t(size)
}

// Fill records filling size bytes (a multiple of 4) at off with the 32-bit value v.
func (c *Commands) Fill(dst uint64, off, size uint64, v uint32, barrier bool) {
	cmd := c.add(C.CV_CMD_FILL, barrier)
	cmd.buf[0] = C.uint64_t(dst)
	cmd.off[0] = C.uint64_t(off)
	cmd._range[0] = C.uint64_t(size)
	cmd.groups[0] = C.uint32_t(v)
}

// Timestamp records writing query i of q once all earlier commands complete.
func (c *Commands) Timestamp(q *QueryPool, i uint32) {
	cmd := c.add(C.CV_CMD_TIMESTAMP, false)
	cmd.pipeline = C.uint64_t(q.handle)
	cmd.groups[0] = C.uint32_t(i)
}

// ResetQueries records resetting queries [first, first+count) of q.
func (c *Commands) ResetQueries(q *QueryPool, first, count uint32) {
	cmd := c.add(C.CV_CMD_RESET_QUERIES, false)
	cmd.pipeline = C.uint64_t(q.handle)
	cmd.groups[0], cmd.groups[1] = C.uint32_t(first), C.uint32_t(count)
}

// Submission is submitted command buffers and their fence.
type Submission struct {
	cb    C.VkCommandBuffer
	fence C.VkFence
	// once are earlier one-time command buffers of the same submission.
	once []C.VkCommandBuffer
}

// Submit records every command of c into a new command buffer, ends it with a
// barrier that makes all writes visible to the host, and submits it after the
// command buffers of before, in order, in one queue submission. With no
// commands in c, nothing is recorded: a command buffer holding only that
// barrier, recorded once, ends the submission. It does not wait and does not
// reset c. The one-time steps of before are released when the submission is
// waited for, or on error. Submissions and their fences are reused: after
// the first few, Submit allocates nothing and makes one cgo call.
func (d *Device) Submit(c *Commands, before ...Step) (*Submission, error) {
	s := d.submission()
	cbs := d.cbs[:0]
	for _, st := range before {
		if st.once {
			s.once = append(s.once, st.cb)
		}
		cbs = append(cbs, st.cb)
	}
	if len(c.cmds) > 0 {
		// Go memory without Go pointers inside: fine to pass.
		if err := check("record commands", C.cv_record(d.c, &c.cmds[0], C.uint32_t(len(c.cmds)), 0, 1, &s.cb)); err != nil {
			d.release(s.once)
			return nil, err
		}
		cbs = append(cbs, s.cb)
	} else {
		if d.hostBarrier == nil {
			if err := check("record host barrier", C.cv_record(d.c, nil, 0, 2, 1, &d.hostBarrier)); err != nil {
				d.release(s.once)
				return nil, err
			}
		}
		cbs = append(cbs, d.hostBarrier)
	}
	d.cbs = cbs
	t := time.Now()
	r := C.cv_submit_cbs(d.c, &cbs[0], C.uint32_t(len(cbs)), &s.fence)
	d.submitNanos += int64(time.Since(t))
	if err := check("vkQueueSubmit", r); err != nil {
		d.release(append(s.once, s.cb))
		return nil, err
	}
	return s, nil
}

// SubmitNanos is the time spent in vkQueueSubmit, the driver's part of
// submitting (on lavapipe it hands the work to its queue thread).
func (d *Device) SubmitNanos() int64 { return d.submitNanos }

// submission is a finished Submission to reuse, or a new one.
func (d *Device) submission() *Submission {
	if n := len(d.spareSubs); n > 0 {
		s := d.spareSubs[n-1]
		d.spareSubs = d.spareSubs[:n-1]
		return s
	}
	return &Submission{}
}

func (d *Device) release(cbs []C.VkCommandBuffer) {
	for _, cb := range cbs {
		C.cv_release_cb(d.c, cb, 1)
	}
}

// Step is a recorded command buffer waiting to be submitted before a
// Submit's own: a one-time one (RecordOnce) or a Graph's.
type Step struct {
	cb   C.VkCommandBuffer
	once bool
}

// RecordOnce records c into a one-time command buffer, to be submitted by a
// later Submit (which releases it). It does not reset c.
func (d *Device) RecordOnce(c *Commands) (Step, error) {
	if len(c.cmds) == 0 {
		return Step{}, fmt.Errorf("vk: recording no commands")
	}
	st := Step{once: true}
	err := check("record commands", C.cv_record(d.c, &c.cmds[0], C.uint32_t(len(c.cmds)), 0, 0, &st.cb))
	return st, err
}

// Graph is commands recorded once into a command buffer that is submitted
// again and again (as a Step of Submit). It must not be in flight twice at
// once, and the buffers and pipelines it uses must outlive it.
type Graph struct {
	cb C.VkCommandBuffer
}

// RecordGraph records c into a reusable command buffer. It does not reset c.
func (d *Device) RecordGraph(c *Commands) (*Graph, error) {
	if len(c.cmds) == 0 {
		return nil, fmt.Errorf("vk: recording an empty graph")
	}
	g := &Graph{}
	if err := check("record graph", C.cv_record(d.c, &c.cmds[0], C.uint32_t(len(c.cmds)), 1, 0, &g.cb)); err != nil {
		return nil, err
	}
	return g, nil
}

// Step is the graph as a step of Submit.
func (g *Graph) Step() Step { return Step{cb: g.cb} }

// FreeGraph releases g's command buffer; it must not be in flight.
func (d *Device) FreeGraph(g *Graph) {
	if g != nil && g.cb != nil {
		C.cv_release_cb(d.c, g.cb, 0)
		g.cb = nil
	}
}

// Wait waits for s to complete and releases its one-time command buffers and
// fence; s is reused by a later Submit, so it must not be used again.
func (d *Device) Wait(s *Submission) error {
	if s == nil || (s.cb == nil && s.fence == 0) {
		return nil
	}
	err := check("vkWaitForFences", C.cv_wait(d.c, s.cb, s.fence))
	d.release(s.once)
	s.cb, s.fence, s.once = nil, 0, s.once[:0]
	d.spareSubs = append(d.spareSubs, s)
	return err
}

// QueryPool is a pool of timestamp queries.
type QueryPool struct {
	handle uint64
	Count  int
}

// NewQueryPool makes count timestamp queries.
func (d *Device) NewQueryPool(count int) (*QueryPool, error) {
	var q C.VkQueryPool
	if err := check("vkCreateQueryPool", C.cv_create_query_pool(d.c, C.uint32_t(count), &q)); err != nil {
		return nil, err
	}
	return &QueryPool{uint64(q), count}, nil
}

// Results waits for and returns the raw ticks of queries [first, first+count);
// multiply differences by Props.TimestampPeriod for nanoseconds.
func (d *Device) Results(q *QueryPool, first, count int) ([]uint64, error) {
	if count <= 0 {
		return nil, nil
	}
	buf := (*C.uint64_t)(C.malloc(C.size_t(8 * count)))
	defer C.free(unsafe.Pointer(buf))
	if err := check("vkGetQueryPoolResults", C.cv_query_results(d.c, C.VkQueryPool(q.handle), C.uint32_t(first), C.uint32_t(count), buf)); err != nil {
		return nil, err
	}
	out := make([]uint64, count)
	copy(out, unsafe.Slice((*uint64)(unsafe.Pointer(buf)), count))
	return out, nil
}

// DestroyQueryPool releases q.
func (d *Device) DestroyQueryPool(q *QueryPool) {
	if q != nil && q.handle != 0 {
		C.cv_destroy_query_pool(d.c, C.VkQueryPool(q.handle))
		q.handle = 0
	}
}
