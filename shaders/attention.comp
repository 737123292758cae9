#version 450
#extension GL_GOOGLE_include_directive : require
// attention: the split pass of causal attention, reducing through shared
// memory; see attention.glsl.
#include "attention.glsl"
