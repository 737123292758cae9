package cuda

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	cu "github.com/conveyor-llm/conveyor/cgo/cuda"
)

// These tests need no GPU: they pin the host-side parts of the backend.

func fakeCompiler(calls *int) compileFunc {
	return func(src, name string, opts []string) ([]byte, string, error) {
		*calls++
		return []byte("// PTX of " + name + " for " + strings.Join(opts, " ") + "\n.entry x(\n"), "", nil
	}
}

func TestKernelCacheCompilesOnceThenReadsTheFile(t *testing.T) {
	calls := 0
	c := &kernelCache{dir: t.TempDir(), nvrtc: "12.4", driver: 12040, arch: 86, compile: fakeCompiler(&calls)}
	a, err := c.PTX("matmul")
	require.NoError(t, err)
	b, err := c.PTX("matmul")
	require.NoError(t, err)
	require.Equal(t, a, b)
	require.Equal(t, 1, calls, "the second call reads the cache")
	require.Contains(t, string(a), "compute_86")

	// A fresh cache (another process) finds the file.
	c2 := &kernelCache{dir: c.dir, nvrtc: "12.4", driver: 12040, arch: 86, compile: fakeCompiler(&calls)}
	_, err = c2.PTX("matmul")
	require.NoError(t, err)
	require.Equal(t, 1, calls)
}

func TestKernelCacheKeyChangesWithSourceNVRTCDriverAndArch(t *testing.T) {
	base := kernelCache{dir: "/c", nvrtc: "12.4", driver: 12040, arch: 86}
	k := base.key("matmul", "src")
	for name, c := range map[string]kernelCache{
		"nvrtc":  {dir: "/c", nvrtc: "12.5", driver: 12040, arch: 86},
		"driver": {dir: "/c", nvrtc: "12.4", driver: 12050, arch: 86},
		"arch":   {dir: "/c", nvrtc: "12.4", driver: 12040, arch: 89},
	} {
		require.NotEqual(t, k, c.key("matmul", "src"), name)
	}
	require.NotEqual(t, k, base.key("matmul", "src2"), "source")
	require.Equal(t, k, base.key("matmul", "src"), "stable")
	require.True(t, strings.HasPrefix(k, "matmul-sm86-") && strings.HasSuffix(k, ".ptx"), k)
	require.Equal(t, filepath.Join("/c", k), base.path("matmul", "src"))
	require.Empty(t, (&kernelCache{}).path("matmul", "src"), "no folder: no disk cache")
}

func TestKernelCacheRecompilesACorruptFile(t *testing.T) {
	calls := 0
	c := &kernelCache{dir: t.TempDir(), nvrtc: "11.8", driver: 12000, arch: 80, compile: fakeCompiler(&calls)}
	good, err := c.PTX("norm")
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(c.dir, "norm-sm80-*.ptx"))
	require.NoError(t, err)
	require.Len(t, files, 1)

	for name, corrupt := range map[string]func([]byte) []byte{
		"truncated":    func(b []byte) []byte { return b[:len(b)-3] },
		"flipped byte": func(b []byte) []byte { b[len(b)-2] ^= 1; return b },
		"no header":    func(b []byte) []byte { return []byte(".entry x(\n") },
		"empty":        func([]byte) []byte { return nil },
	} {
		raw, err := os.ReadFile(files[0])
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(files[0], corrupt(raw), 0o644))
		before := calls
		got, err := c.PTX("norm")
		require.NoError(t, err, name)
		require.Equal(t, good, got, name)
		require.Equal(t, before+1, calls, "%s: compiled again", name)
		_, err = readPTX(files[0])
		require.NoError(t, err, "%s: rewritten", name)
	}
}

func TestKernelCacheWorksWithoutAWritableFolder(t *testing.T) {
	calls := 0
	dir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(dir, nil, 0o644)) // a file where the folder should be
	c := &kernelCache{dir: dir, arch: 80, compile: fakeCompiler(&calls)}
	_, err := c.PTX("rope")
	require.NoError(t, err)
	_, err = c.PTX("rope")
	require.NoError(t, err)
	require.Equal(t, 2, calls, "nothing cached, nothing failed")
}

func TestKernelCacheReportsCompileErrorsAndUnknownModules(t *testing.T) {
	c := &kernelCache{arch: 80, compile: func(string, string, []string) ([]byte, string, error) {
		return nil, "", errors.New("nvrtc: compiling rope.cu: error")
	}}
	_, err := c.PTX("rope")
	require.ErrorContains(t, err, "rope.cu")
	_, err = c.PTX("nonesuch")
	require.ErrorContains(t, err, `no CUDA module "nonesuch"`)
}

func TestCacheFolderFollowsTheEnvironment(t *testing.T) {
	t.Setenv(CacheEnv, "off")
	require.Empty(t, defaultCacheDir())
	t.Setenv(CacheEnv, "/some/where")
	require.Equal(t, "/some/where", defaultCacheDir())
	t.Setenv(CacheEnv, "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	require.Equal(t, "/xdg/conveyor/cuda", defaultCacheDir())
}

func TestChooseArchTakesTheNewestNVRTCSupportsUpToTheDevice(t *testing.T) {
	nvrtc118 := []int{35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90}
	for _, c := range []struct{ device, want int }{{86, 86}, {90, 90}, {100, 90}, {120, 90}, {88, 87}, {75, 75}} {
		got, err := chooseArch(c.device, nvrtc118)
		require.NoError(t, err)
		require.Equal(t, c.want, got, "device sm_%d", c.device)
	}
	_, err := chooseArch(30, nvrtc118)
	require.ErrorContains(t, err, "sm_35 and later")
	got, err := chooseArch(89, nil)
	require.NoError(t, err)
	require.Equal(t, 89, got, "NVRTC that cannot say: the device's own")
}

func TestQ8PlanAlignsQuantsAndScales(t *testing.T) {
	for _, c := range []struct{ rows, k int }{{1, 32}, {1, 2048}, {7, 96}, {512, 5632}} {
		p, err := planQ8(c.rows, c.k)
		require.NoError(t, err)
		values := int64(c.rows * c.k)
		require.Zero(t, p.scales%scratchAlign)
		require.GreaterOrEqual(t, p.scales, values, "scales after the quants")
		require.GreaterOrEqual(t, p.total, p.scales+values/32*4)
		require.Zero(t, p.total%scratchAlign)
	}
	_, err := planQ8(2, 48)
	require.ErrorContains(t, err, "multiple of 32")
	_, err = planQ8(2, 0)
	require.Error(t, err)
}

func TestScratchGrowsGeometrically(t *testing.T) {
	require.Equal(t, int64(1<<20), grow(0, 1000), "at least 1 MiB")
	require.Equal(t, int64(4<<20), grow(2<<20, 3<<20), "doubles")
	require.Equal(t, alignUp(9<<20+1), grow(2<<20, 9<<20+1), "or what is needed")
	require.Equal(t, int64(5<<20), grow(5<<20, 4<<20), "never shrinks")
}

func TestElementwiseGridCoversAndCaps(t *testing.T) {
	b, th := elementwiseGrid(1)
	require.Equal(t, uint32(1), b)
	require.Equal(t, uint32(256), th)
	b, _ = elementwiseGrid(257)
	require.Equal(t, uint32(2), b)
	b, _ = elementwiseGrid(1 << 40)
	require.Equal(t, uint32(4096), b, "a grid-stride loop does the rest")
}

// fakeExec records what the graph cache asks of the device.
type fakeExec struct {
	submits, captures, replays, frees int
	failCapture                       bool
	live                              map[*cu.Graph]bool
}

func (f *fakeExec) Submit([]cu.Command) error { f.submits++; return nil }
func (f *fakeExec) Capture([]cu.Command) (*cu.Graph, error) {
	if f.failCapture {
		return nil, errors.New("cuStreamBeginCapture: CUDA_ERROR_NOT_SUPPORTED")
	}
	f.captures++
	g := new(cu.Graph)
	f.live[g] = true
	return g, nil
}
func (f *fakeExec) Replay(g *cu.Graph) error {
	if !f.live[g] {
		panic("replay of a freed graph")
	}
	f.replays++
	return nil
}
func (f *fakeExec) FreeGraph(g *cu.Graph) { f.frees++; delete(f.live, g) }

func commands(n int, salt uint64) []cu.Command {
	out := make([]cu.Command, n)
	for i := range out {
		var a cu.Args
		a.Ptr(cu.DevPtr(0x1000 * (i + 1))).U64(salt)
		out[i], _ = cu.Launch(cu.Function(i+1), [3]uint32{1, 1, 1}, [3]uint32{32, 1, 1}, 0, &a)
	}
	return out
}

func TestGraphCaptureOncePerShapeThenReplay(t *testing.T) {
	x := &fakeExec{live: map[*cu.Graph]bool{}}
	c := newGraphCache()
	decode := commands(20, 1)
	for range 5 {
		require.NoError(t, c.run(x, decode))
	}
	require.Equal(t, 1, x.submits, "first time: launched plainly")
	require.Equal(t, 1, x.captures, "second time: captured")
	require.Equal(t, 4, x.replays, "then replayed")
	require.Equal(t, int64(1), c.captures)

	// Another shape (a different batch) is its own graph; the first stays.
	other := commands(20, 2)
	for range 3 {
		require.NoError(t, c.run(x, other))
	}
	require.NoError(t, c.run(x, decode))
	require.Equal(t, 2, x.captures)
	require.Equal(t, 4+2+1, x.replays)
}

func TestGraphCacheSubmitsShortAndOneOffLists(t *testing.T) {
	x := &fakeExec{live: map[*cu.Graph]bool{}}
	c := newGraphCache()
	short := commands(c.minCommands-1, 0)
	for range 4 {
		require.NoError(t, c.run(x, short))
	}
	for i := range 4 {
		require.NoError(t, c.run(x, commands(30, uint64(100+i)))) // every prompt chunk differs
	}
	require.Equal(t, 8, x.submits)
	require.Zero(t, x.captures)
	require.NoError(t, c.run(x, nil))
	require.Equal(t, 8, x.submits, "nothing to do")
}

func TestGraphCacheEvictsTheLeastRecentlyUsed(t *testing.T) {
	x := &fakeExec{live: map[*cu.Graph]bool{}}
	c := newGraphCache()
	c.maxGraphs = 2
	a, b, d := commands(10, 1), commands(10, 2), commands(10, 3)
	for _, l := range [][]cu.Command{a, a, b, b, a, d, d} {
		require.NoError(t, c.run(x, l))
	}
	require.Equal(t, 3, x.captures)
	require.Equal(t, 1, x.frees, "b was the least recently used")
	require.Len(t, c.graphs, 2)
	require.NoError(t, c.run(x, a), "a survived and replays")
	require.Equal(t, 3, x.captures)
	c.free(x)
	require.Empty(t, x.live)
}

func TestGraphCacheFallsBackWhenCaptureFails(t *testing.T) {
	x := &fakeExec{live: map[*cu.Graph]bool{}, failCapture: true}
	c := newGraphCache()
	l := commands(10, 1)
	for range 4 {
		require.NoError(t, c.run(x, l))
	}
	require.True(t, c.disabled)
	require.Equal(t, 4, x.submits)
	require.Zero(t, x.replays)
}

func TestGraphCacheForgetsCountsWhenTooManyListsWereSeen(t *testing.T) {
	x := &fakeExec{live: map[*cu.Graph]bool{}}
	c := newGraphCache()
	c.maxSeen = 4
	for i := range 10 {
		require.NoError(t, c.run(x, commands(10, uint64(i))))
	}
	require.LessOrEqual(t, len(c.seen), 4)
}

func TestGraphCacheStopsCapturingWhenItThrashes(t *testing.T) {
	x := &fakeExec{live: map[*cu.Graph]bool{}}
	c := newGraphCache()
	c.maxGraphs = 2
	lists := [][]cu.Command{commands(10, 1), commands(10, 2), commands(10, 3)}
	for range 10 { // three lists in turn through two graphs: every capture evicts
		for _, l := range lists {
			require.NoError(t, c.run(x, l))
		}
	}
	require.True(t, c.disabled)
	require.LessOrEqual(t, x.captures, 2+c.maxGraphs+1)
}
