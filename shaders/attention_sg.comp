#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : require
// attention with subgroup max and sum (devices with subgroup arithmetic in
// compute shaders); see attention.glsl.
#define SUBGROUP 1
#include "attention.glsl"
