package vulkan

import (
	"github.com/conveyor-llm/conveyor/cgo/vk"
)

// Record once, replay (backend.Replayer): the ops of a decode step are the
// same commands every token, only the contents of their input tensors change
// (tokens, positions, cache rows, written before the step). So the first step
// of a key records its commands into a reusable command buffer, a graph, and
// later steps submit that buffer again: the host neither runs the model's Go
// code nor records commands, it only writes the inputs and submits.
//
// A graph is kept only when every command between its start and its end is
// an op: a Write, Read or submit in between (a model that reads back, a
// staging arena that fills) abandons the capture and the ops run as usual.
// Graphs name device memory by handle, so releasing any device memory makes
// every graph stale (epoch); a stale graph is recorded again when next used.

const (
	maxGraphs        = 16    // graphs kept; the least recently used goes first
	maxGraphCommands = 16384 // a longer capture is abandoned (and flushed)
	maxCaptureTries  = 3     // after this many abandoned captures of a key, stop trying
)

// graph is one recorded step.
type graph struct {
	g                    *vk.Graph
	epoch                uint64
	dispatches, barriers int64
	// What the tracker and the quantized-activation cache hold after the
	// graph: the same after every replay as after the capture.
	reads, writes []span
	quantKey      quantKey
	quantValid    bool
	inFlight      bool
	lastUse       uint64
}

// capture is a graph being recorded.
type capture struct {
	key                  any
	epoch                uint64
	dispatches, barriers int64 // the counters when it began
}

// replayState is the Backend's part for replay.
type replayState struct {
	graphs   map[any]*graph
	tries    map[any]int // abandoned captures by key
	capture  *capture
	chain    []vk.Step // recorded command buffers for the next submit, in order
	flying   []*graph  // graphs submitted and not yet waited for
	epoch    uint64    // bumped whenever device memory is released
	uses     uint64
	disabled bool
}

// Replay runs the ops record issues, recording them once per key and
// replaying them on later calls with that key (see backend.Replayer).
func (b *Backend) Replay(key any, record func()) {
	r := &b.replay
	if r.disabled || r.capture != nil {
		record()
		return
	}
	if g := r.graphs[key]; g != nil {
		if g.epoch == r.epoch {
			b.runGraph(g)
			return
		}
		b.dropGraph(key, g)
	}
	if r.tries[key] >= maxCaptureTries {
		record()
		return
	}
	b.cut()
	r.capture = &capture{key: key, epoch: r.epoch, dispatches: b.stats.Dispatches, barriers: b.stats.Barriers}
	b.hz.forceNext = true // the graph must wait for whatever ran before it
	b.quantValid = false  // and must not rely on activations quantized before it
	b.moe.valid = false   // nor on MatMulID's grouping
	record()
	b.endCapture()
}

// abandonCapture turns the capture in progress, if any, into ordinary
// commands: they are submitted as usual.
func (b *Backend) abandonCapture() {
	if c := b.replay.capture; c != nil {
		b.replay.capture = nil
		b.giveUp(c.key)
	}
}

// giveUp counts an abandoned capture of key.
func (b *Backend) giveUp(key any) {
	r := &b.replay
	if r.tries == nil {
		r.tries = map[any]int{}
	}
	r.tries[key]++
}

// endCapture keeps the commands recorded since the capture began as a graph
// and queues it for the next submit.
func (b *Backend) endCapture() {
	r := &b.replay
	c := r.capture
	if c == nil {
		return
	}
	r.capture = nil
	if c.epoch != r.epoch || b.cmds.Len() == 0 || b.err != nil {
		b.giveUp(c.key)
		return
	}
	vg, err := b.dev.RecordGraph(&b.cmds)
	if err != nil {
		b.giveUp(c.key)
		return
	}
	b.cmds.Reset()
	b.resetFusion()
	g := &graph{
		g: vg, epoch: c.epoch,
		dispatches: b.stats.Dispatches - c.dispatches, barriers: b.stats.Barriers - c.barriers,
		reads: append([]span(nil), b.hz.reads...), writes: append([]span(nil), b.hz.writes...),
		quantKey: b.quantKey, quantValid: b.quantValid,
	}
	if len(r.graphs) >= maxGraphs {
		b.dropLeastRecent()
	}
	if r.graphs == nil {
		r.graphs = map[any]*graph{}
	}
	r.graphs[c.key] = g
	b.queueGraph(g)
}

// runGraph queues a recorded graph as if its ops had been recorded again.
func (b *Backend) runGraph(g *graph) {
	if g.inFlight {
		// A command buffer may not be pending twice: wait for the last run.
		if err := b.sync(); err != nil && b.err == nil {
			b.err = err
		}
	}
	b.recording()
	b.cut()
	b.stats.Dispatches += g.dispatches
	b.stats.Barriers += g.barriers
	b.hz.reads = append(b.hz.reads[:0], g.reads...)
	b.hz.writes = append(b.hz.writes[:0], g.writes...)
	b.hz.forceNext = false
	b.quantKey, b.quantValid = g.quantKey, g.quantValid
	b.moe.valid = false
	b.queueGraph(g)
}

func (b *Backend) queueGraph(g *graph) {
	r := &b.replay
	r.uses++
	g.lastUse = r.uses
	g.inFlight = true
	r.chain = append(r.chain, g.g.Step())
	r.flying = append(r.flying, g)
}

// cut moves the commands recorded so far into a one-time command buffer
// queued for the next submit, so a graph can follow them.
func (b *Backend) cut() {
	if b.cmds.Len() == 0 {
		return
	}
	st, err := b.dev.RecordOnce(&b.cmds)
	if err != nil {
		b.flush() // submitted on their own instead
		return
	}
	b.cmds.Reset()
	b.resetFusion()
	b.replay.chain = append(b.replay.chain, st)
}

// landed notes that every submitted graph has finished.
func (b *Backend) landed() {
	r := &b.replay
	for _, g := range r.flying {
		g.inFlight = false
	}
	r.flying = r.flying[:0]
}

// memoryReleased makes every graph stale: one may name the released memory.
func (b *Backend) memoryReleased() {
	b.replay.epoch++
}

func (b *Backend) dropGraph(key any, g *graph) {
	if g.inFlight {
		if err := b.sync(); err != nil && b.err == nil {
			b.err = err
		}
	}
	b.dev.FreeGraph(g.g)
	delete(b.replay.graphs, key)
}

func (b *Backend) dropLeastRecent() {
	var oldest any
	var og *graph
	for k, g := range b.replay.graphs {
		if og == nil || g.lastUse < og.lastUse {
			oldest, og = k, g
		}
	}
	if og != nil {
		b.dropGraph(oldest, og)
	}
}

// dropGraphs frees every graph; nothing may be in flight.
func (b *Backend) dropGraphs() {
	for k, g := range b.replay.graphs {
		b.dev.FreeGraph(g.g)
		delete(b.replay.graphs, k)
	}
}

// KeptGraphs is the number of recorded steps kept for replay.
func (b *Backend) KeptGraphs() int { return len(b.replay.graphs) }
