// int_dot.glsl: dot products of words holding 4 signed bytes each, through
// VK_KHR_shader_integer_dot_product where INTDOT is set, else in plain GLSL
// (the same integers). Included by matmul.glsl and matmul_tiled.glsl.

#if INTDOT
// OpSDot of SPV_KHR_integer_dot_product on 4x8-bit packed words (capabilities
// DotProduct, DotProductInput4x8BitPacked; the literal 0 is
// PackedVectorFormat4x8Bit): this glslang lacks GL_EXT_integer_dot_product.
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int sdotPacked(uint a, uint b, spirv_literal int format);
int dot4(uint a, uint b) { return sdotPacked(a, b, 0); }
#else
// dot4 is the dot product of two words read as 4 signed bytes each.
int dot4(uint a, uint b) {
	int s = 0;
	for (int t = 0; t < 32; t += 8) {
		s += bitfieldExtract(int(a), t, 8) * bitfieldExtract(int(b), t, 8);
	}
	return s;
}
#endif

int dot16(uvec4 a, uvec4 b) { return dot4(a.x, b.x) + dot4(a.y, b.y) + dot4(a.z, b.z) + dot4(a.w, b.w); }
