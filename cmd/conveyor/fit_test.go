package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

func TestInfoFit(t *testing.T) {
	model := testdata.Path(t, "models/stories260K-q8_0.gguf")
	code, out, errOut := conveyor("info", "--fit", "-c", "256", "--parallel", "2", "--backend", "cpu", model)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "backend:  cpu")
	require.Contains(t, out, "session:  2 x 256 positions, f16 cache")
	require.Contains(t, out, "Q8_0")
	require.Contains(t, out, "KV cache (host RAM)")
	require.Contains(t, out, "fits:     yes")

	// 2^31 positions of f32 cache do not fit in any machine that runs this.
	code, out, errOut = conveyor("info", "--fit", "-c", "100000000", "--parallel", "20", "--cache-type", "f32", "--backend", "cpu", model)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "fits:     no")
	require.Contains(t, out, "engine: the model will not fit: it needs")
	require.Contains(t, out, "would fit")

	code, _, _ = conveyor("info", "--fit", "--cache-type", "q5_1", model)
	require.Equal(t, 2, code)

	// A q8_0 cache is 34 bytes per 32 values, q4_0 18, against f16's 64.
	for _, typ := range []string{"q8_0", "q4_0"} {
		code, out, errOut = conveyor("info", "--fit", "-c", "256", "--cache-type", typ, "--backend", "cpu", model)
		require.Equal(t, 0, code, errOut)
		require.Contains(t, out, "positions, "+typ+" cache")
	}
	// -ctk and -ctv apart: each half at its own type.
	code, out, errOut = conveyor("info", "--fit", "-c", "256", "-ctk", "q8_0", "-ctv", "f16", "--backend", "cpu", model)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "positions, keys q8_0, values f16 cache")
	code, _, errOut = conveyor("info", "--fit", "-ctv", "q5_1", model)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "q5_1 is not supported yet")
}

func TestRunRefusesAContextTooLarge(t *testing.T) {
	model := testdata.Path(t, "models/stories260K.gguf")
	code, _, errOut := conveyor("run", "-m", model, "-c", "2000000000", "--backend", "cpu", "-p", "Once", "-n", "1")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "the model will not fit")
	require.Contains(t, errOut, "(-c ")
}
