package cuda

import (
	"crypto/sha256"
	"unsafe"

	cu "github.com/conveyor-llm/conveyor/cgo/cuda"
)

// executor runs command lists: a cgo/cuda Context, or a fake in tests.
type executor interface {
	Submit(cmds []cu.Command) error
	Capture(cmds []cu.Command) (*cu.Graph, error)
	Replay(g *cu.Graph) error
	FreeGraph(g *cu.Graph)
}

// graphCache replays a command list as a CUDA graph once the same list has
// been submitted captureAfter times. A decode step is the same list every
// token (positions, token ids and cache rows live in device memory, written
// before the step; the commands hold only pointers and sizes), so decode is
// captured once per shape and replayed; a prompt's shapes vary and run as
// plain launches. Lists are keyed by their exact bytes, so a replay runs
// precisely the commands a submit would.
type graphCache struct {
	minCommands  int // shorter lists are submitted: a graph saves nothing
	captureAfter int
	maxGraphs    int
	maxSeen      int
	disabled     bool // a capture failed, or graphs thrash: submit from now on
	evictions    int

	seen   map[graphKey]int
	graphs map[graphKey]*graphEntry
	tick   int64

	captures, replays, submits int64
}

type graphKey [sha256.Size]byte

type graphEntry struct {
	g    *cu.Graph
	used int64
}

func newGraphCache() *graphCache {
	return &graphCache{minCommands: 8, captureAfter: 2, maxGraphs: 16, maxSeen: 256,
		seen: map[graphKey]int{}, graphs: map[graphKey]*graphEntry{}}
}

func keyOf(cmds []cu.Command) graphKey {
	raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(cmds))), len(cmds)*int(unsafe.Sizeof(cu.Command{})))
	return sha256.Sum256(raw)
}

// run queues cmds on x: as a replayed graph when one was captured for this
// list, capturing it now when the list has come often enough, else plainly.
func (c *graphCache) run(x executor, cmds []cu.Command) error {
	if len(cmds) == 0 {
		return nil
	}
	if c.disabled || len(cmds) < c.minCommands {
		c.submits++
		return x.Submit(cmds)
	}
	k := keyOf(cmds)
	c.tick++
	if e, ok := c.graphs[k]; ok {
		e.used = c.tick
		c.replays++
		return x.Replay(e.g)
	}
	if len(c.seen) >= c.maxSeen {
		clear(c.seen) // many distinct lists (prompts): start counting afresh
	}
	c.seen[k]++
	if c.seen[k] < c.captureAfter {
		c.submits++
		return x.Submit(cmds)
	}
	g, err := x.Capture(cmds)
	if err != nil {
		c.disabled = true // e.g. a driver without graph support: keep going without
		c.submits++
		return x.Submit(cmds)
	}
	delete(c.seen, k)
	c.evict(x)
	c.graphs[k] = &graphEntry{g: g, used: c.tick}
	c.captures++
	c.replays++
	return x.Replay(g)
}

// evict frees the least recently used graph while there are maxGraphs.
func (c *graphCache) evict(x executor) {
	for len(c.graphs) >= c.maxGraphs {
		var oldest graphKey
		var at int64 = -1
		for k, e := range c.graphs {
			if at < 0 || e.used < at {
				oldest, at = k, e.used
			}
		}
		x.FreeGraph(c.graphs[oldest].g)
		delete(c.graphs, oldest)
		// More distinct repeating lists than graphs kept (a step split by
		// host reads, such as MoE routing, layer by layer): capturing
		// again and again costs more than it saves.
		if c.evictions++; c.evictions > c.maxGraphs {
			c.disabled = true
		}
	}
}

// free releases every graph.
func (c *graphCache) free(x executor) {
	for k, e := range c.graphs {
		x.FreeGraph(e.g)
		delete(c.graphs, k)
	}
	clear(c.seen)
}
