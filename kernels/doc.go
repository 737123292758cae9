// Package kernels holds the tensor types' block formats: conversion between
// float32 and F16/BF16, the reference quantizers and dequantizers of ggml's
// block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1), and the dot products the CPU
// backend's matrix multiplication is built from.
//
// Everything here is plain Go and follows ggml's reference arithmetic, so that
// quantized files come out byte-identical to llama.cpp's. Each dot product
// reduces in an order that depends only on the number of values, never on the
// data, the machine or the batch, and every float32 product is rounded
// explicitly (no fused multiply-add), so results are the same bit for bit on
// every platform.
package kernels
