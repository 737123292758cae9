#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : require
// matmul_sg over each tile's expert (MatMulID); see matmul.glsl.
#define SUBGROUP 1
#define EXPERT_TILES 1
#include "matmul.glsl"
