#version 450
#extension GL_GOOGLE_include_directive : require
// the prefill matmul tiled through shared memory (SUBGROUP 0, INTDOT 0);
// see matmul_tiled.glsl.
#define SUBGROUP 0
#define INTDOT 0
#include "matmul_tiled.glsl"
