#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_spirv_intrinsics : require
// matmul with subgroup reductions and the device's packed 4x8-bit
// dot products; see matmul.glsl.
#define SUBGROUP 1
#define INTDOT 1
#include "matmul.glsl"
