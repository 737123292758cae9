#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : require
// the prefill matmul tiled through shared memory (SUBGROUP 1, INTDOT 0);
// see matmul_tiled.glsl.
#define SUBGROUP 1
#define INTDOT 0
#include "matmul_tiled.glsl"
