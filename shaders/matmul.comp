#version 450
#extension GL_GOOGLE_include_directive : require
// matmul with a shared-memory reduction and dot products in
// shifts and multiplies (any device); see matmul.glsl.
#define SUBGROUP 0
#define INTDOT 0
#include "matmul.glsl"
