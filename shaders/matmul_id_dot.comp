#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_spirv_intrinsics : require
// matmul_dot over each tile's expert (MatMulID); see matmul.glsl.
#define SUBGROUP 0
#define INTDOT 1
#define EXPERT_TILES 1
#include "matmul.glsl"
