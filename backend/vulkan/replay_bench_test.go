package vulkan

import (
	"encoding/binary"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
)

// replayStepper runs the decode steps of a stepModel as the engine does: the
// inputs written, the step replayed, the argmax read back. It reuses its
// byte slices, so any allocation counted is the backend's.
type replayStepper struct {
	m       *stepModel
	in      [4][]byte
	ids     [1]int32
	pos     int32
	key     any
	forward func()
}

func newReplayStepper(tb testing.TB, b *Backend) *replayStepper {
	m := newStepModel(tb, b, 5)
	s := &replayStepper{m: m, key: "decode", forward: func() { m.forward(1) }}
	for i := range s.in {
		s.in[i] = make([]byte, 4)
	}
	return s
}

// step runs one decode step at the next position of sequence 0.
func (s *replayStepper) step(tb testing.TB) {
	m := s.m
	pos := s.pos % int32(m.ctx)
	s.pos++
	for i, v := range [4]int32{s.ids[0], pos, 0, pos} { // token, position, sequence, cache row
		binary.LittleEndian.PutUint32(s.in[i], uint32(v))
	}
	for i, t := range [4]backend.Tensor{m.ids, m.pos, m.seq, m.rows} {
		if err := m.b.Write(t.Head(1), s.in[i]); err != nil {
			tb.Fatal(err)
		}
	}
	m.b.Replay(s.key, s.forward)
	if err := m.b.ArgMax(m.x.Slice(0, 1), s.ids[:]); err != nil {
		tb.Fatal(err)
	}
	s.ids[0] %= stepVocab
}

// BenchmarkReplayStep measures the host's cost of a replayed decode step:
// record-ns/op is what bench's per_token.record_us counts (the first
// command to the end of the submit), of which submit-ns/op is spent in the
// driver's vkQueueSubmit; ns/op is the whole step including the device's
// work and the wait for it; allocs/op are the step's allocations.
func BenchmarkReplayStep(b *testing.B) {
	be, err := NewWithOptions(-1, Options{})
	if err != nil {
		b.Skipf("Vulkan backend unavailable: %v", err)
	}
	defer be.Close()
	s := newReplayStepper(b, be)
	for range 3 { // record the graph, warm the pools
		s.step(b)
	}
	before, submitBefore := be.Counters(), be.dev.SubmitNanos()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s.step(b)
	}
	b.StopTimer()
	after := be.Counters()
	b.ReportMetric(float64(after.RecordNanos-before.RecordNanos)/float64(b.N), "record-ns/op")
	b.ReportMetric(float64(be.dev.SubmitNanos()-submitBefore)/float64(b.N), "submit-ns/op")
	b.ReportMetric(float64(after.Submits-before.Submits)/float64(b.N), "submits/op")
}

// A replayed decode step (input writes, the replayed graph, the argmax read
// back) allocates nothing on the host once its graphs are recorded, and
// makes one submission.
func TestReplayedStepAllocatesNothing(t *testing.T) {
	be, err := NewWithOptions(-1, Options{})
	if err != nil {
		t.Fatalf("Vulkan backend unavailable: %v", err)
	}
	defer be.Close()
	s := newReplayStepper(t, be)
	for range 3 {
		s.step(t)
	}
	before := be.Counters()
	if n := testing.AllocsPerRun(20, func() { s.step(t) }); n != 0 {
		t.Errorf("%v allocations per replayed step, want 0", n)
	}
	if n := be.Counters().Submits - before.Submits; n != 21 { // AllocsPerRun runs once more to warm up
		t.Errorf("%d submissions in 21 steps, want one a step", n)
	}
}
