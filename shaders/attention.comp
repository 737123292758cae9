#version 450
#extension GL_GOOGLE_include_directive : require
// attention: causal attention split over the sequence, reducing through shared
// memory; see attention.glsl.
#include "attention.glsl"
