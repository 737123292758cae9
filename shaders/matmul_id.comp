#version 450
#extension GL_GOOGLE_include_directive : require
// matmul over each tile's expert (MatMulID); see matmul.glsl.
#define SUBGROUP 0
#define EXPERT_TILES 1
#include "matmul.glsl"
