#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_spirv_intrinsics : require
// matmul_sg_dot over each tile's expert (MatMulID); see matmul.glsl.
#define SUBGROUP 1
#define INTDOT 1
#define EXPERT_TILES 1
#include "matmul.glsl"
