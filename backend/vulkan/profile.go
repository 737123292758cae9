package vulkan

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/conveyor-llm/conveyor/cgo/vk"
	"github.com/conveyor-llm/conveyor/gguf"
)

// ProfileEnv names the environment variable that, set to 1, profiles the
// device work per shader: every dispatch is submitted alone and waited for,
// and the wall time and the process's CPU time (lavapipe runs shaders on
// threads of this process) it took are summed per shader, weight type and
// grid (see profileLabel). The table goes to stderr when the backend
// closes. A development tool: it turns replay and fusion off and serializes
// the device, so totals are above a normal run's.
const ProfileEnv = "CONVEYOR_VK_PROFILE"

// profile is the per-shader totals.
type profile struct {
	on    bool
	names map[*vk.Pipeline]pipeKey
	rows  map[string]*profileRow
	host  time.Duration // between profiled dispatches: Go, recording, writes
	last  time.Time
}

type profileRow struct {
	count     int
	wall, cpu time.Duration
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// profileLabel names a dispatch: shader, weight type for matmul and
// get_rows, and "(batch)" when its grid has more than one row of workgroups
// (a matmul with more rows of x than one tile, attention or KV writes of
// several tokens: prefill, where decode dispatches have one).
func (b *Backend) profileLabel(p *vk.Pipeline, y uint32) string {
	k := b.prof.names[p]
	s := k.name
	if k.name == b.matmul || k.name == "get_rows" || strings.HasPrefix(k.name, "matmul_tiled") {
		s += " " + gguf.Type(k.spec[0]).String()
	}
	if y > 1 {
		s += " (batch)"
	}
	return s
}

// profiled submits the dispatch just recorded alone and charges its time.
func (b *Backend) profiled(label string) {
	if !b.prof.last.IsZero() {
		b.prof.host += time.Since(b.prof.last)
	}
	w0, c0 := time.Now(), cpuTime()
	if err := b.sync(); err != nil && b.err == nil {
		b.err = err
	}
	r := b.prof.rows[label]
	if r == nil {
		r = &profileRow{}
		b.prof.rows[label] = r
	}
	r.count++
	r.wall += time.Since(w0)
	r.cpu += cpuTime() - c0
	b.prof.last = time.Now()
}

// printProfile writes the table, most expensive first.
func (b *Backend) printProfile() {
	if !b.prof.on || len(b.prof.rows) == 0 {
		return
	}
	labels := make([]string, 0, len(b.prof.rows))
	var wall, cpu time.Duration
	for l, r := range b.prof.rows {
		labels = append(labels, l)
		wall += r.wall
		cpu += r.cpu
	}
	sort.Slice(labels, func(i, j int) bool { return b.prof.rows[labels[i]].cpu > b.prof.rows[labels[j]].cpu })
	var s strings.Builder
	fmt.Fprintf(&s, "vulkan profile (each dispatch alone; host between dispatches %.1f ms)\n", ms(b.prof.host))
	fmt.Fprintf(&s, "%-28s %8s %10s %10s %6s\n", "shader", "count", "wall ms", "cpu ms", "cpu %")
	for _, l := range labels {
		r := b.prof.rows[l]
		fmt.Fprintf(&s, "%-28s %8d %10.1f %10.1f %5.1f%%\n", l, r.count, ms(r.wall), ms(r.cpu), 100*float64(r.cpu)/float64(max(cpu, 1)))
	}
	fmt.Fprintf(&s, "%-28s %8s %10.1f %10.1f\n", "total", "", ms(wall), ms(cpu))
	os.Stderr.WriteString(s.String())
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
