// Package kernels holds the tensor types' block formats and the CPU's numeric
// kernels: conversion between float32 and F16/BF16, the quantizers and
// dequantizers of ggml's block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, the
// K-quants Q2_K..Q6_K and Q8_K, IQ4_NL, IQ4_XS, MXFP4), the dot products the CPU
// backend's matrix multiplication is built from, packed Q8_0/Q4_0 weights
// (packed.go) and attention's flash accumulator.
//
// Every kernel has a plain-Go twin that defines its arithmetic: quantized
// files come out byte-identical to llama.cpp's, and each dot product reduces
// in an order that depends only on the number of values, never on the data,
// the batch or the machine. Where llama.cpp fuses a multiply-add the twin
// says so explicitly (fma32), and nowhere else: Go never fuses float32
// arithmetic on amd64. The amd64 assembly versions (AVX-512, VNNI, AMX),
// chosen at start-up from the CPU's features, give their twins' bits and are
// tested against them; other architectures run the twins.
package kernels
