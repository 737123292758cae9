#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_spirv_intrinsics : require
// matmul with a shared-memory reduction and the device's packed
// 4x8-bit dot products (shaderIntegerDotProduct); see matmul.glsl.
#define SUBGROUP 0
#define INTDOT 1
#include "matmul.glsl"
