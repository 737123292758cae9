package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// serve -c is the KV cache shared by the parallel sequences, as llama-server's.
func TestServeContextIsShared(t *testing.T) {
	for _, c := range []struct{ total, parallel, want int }{
		{0, 4, 0}, {8192, 4, 2048}, {4096, 1, 4096}, {1000, 3, 333}, {4, 4, 1},
	} {
		got, err := sequenceContext(c.total, c.parallel)
		require.NoError(t, err)
		require.Equal(t, c.want, got, "-c %d --parallel %d", c.total, c.parallel)
	}
	_, err := sequenceContext(3, 4)
	require.ErrorIs(t, err, errUsage)
	require.Contains(t, err.Error(), "less than one token each")
}

func TestServeAPIKeys(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(file, []byte("# team keys\nsk-a\n\n  sk-b  \n"), 0o600))
	keys, err := readAPIKeys([]string{"sk-flag"}, file)
	require.NoError(t, err)
	require.Equal(t, []string{"sk-flag", "sk-a", "sk-b"}, keys)

	var l listFlag
	require.NoError(t, l.Set("a, b"))
	require.NoError(t, l.Set("c"))
	require.Equal(t, listFlag{"a", "b", "c"}, l)

	empty := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(empty, []byte("# nothing\n"), 0o600))
	_, err = readAPIKeys(nil, empty)
	require.ErrorContains(t, err, "holds no key")
	_, err = readAPIKeys(nil, filepath.Join(t.TempDir(), "missing"))
	require.ErrorContains(t, err, "--api-key-file")

	code, _, errOut := conveyor("serve", "-m", "x.gguf", "--api-key-file", empty)
	require.Equal(t, 2, code, errOut)
	code, _, errOut = conveyor("serve", "-m", "x.gguf", "-c", "2", "--parallel", "4")
	require.Equal(t, 2, code, errOut)
	require.Contains(t, errOut, "less than one token each")
}
