#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : require
// matmul with subgroup reductions (devices with subgroup arithmetic
// in compute shaders); see matmul.glsl.
#define SUBGROUP 1
#define INTDOT 0
#include "matmul.glsl"
