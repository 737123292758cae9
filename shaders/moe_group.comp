#version 450
#extension GL_GOOGLE_include_directive : require
// moe_group: MatMulID's grouping of slots by expert, on the device (one
// workgroup). Slot s = i*used + j is token i's j-th chosen expert IDS[s].
// Grouped row g lists the slots of expert 0, then of expert 1, ..., each
// expert's in slot order:
//   GATHER[g]  the x row grouped row g multiplies (s, or s/used when the
//              tokens' experts share one input row),
//   SCATTER[s] the grouped row of slot s (-1 for an id out of range),
//   TILES[3t..3t+2] tile t of the grouped rows for matmul_id: its expert,
//              first grouped row and number of rows (at most NCOLS); tiles
//              past the last are empty (0 rows) up to the bound p.tiles.
#include "common.glsl"

#define WG 256u
#define MAX_EXPERTS 1024u
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer Ib { int IDS[]; };
layout(std430, binding = 1) writeonly buffer Gb { int LISTS[]; }; // GATHER then SCATTER
layout(std430, binding = 2) writeonly buffer Tb { uint TILES[]; };

layout(push_constant) uniform P {
	uint idsOff, listsOff, tilesOff; // words
	uint slots, used, experts;
	uint sharedInput; // 1: x has one row per token
	uint ncols;       // rows of a tile
	uint tiles;       // tiles in the table
} p;

shared uint count[MAX_EXPERTS];
shared uint start[MAX_EXPERTS];
shared uint tileStart[MAX_EXPERTS + 1u];

void main() {
	uint tid = gl_LocalInvocationID.x;
	for (uint e = tid; e < p.experts; e += WG) {
		uint c = 0u;
		for (uint s = 0u; s < p.slots; s++) {
			if (IDS[p.idsOff + s] == int(e)) {
				c++;
			}
		}
		count[e] = c;
	}
	for (uint s = tid; s < p.slots; s += WG) {
		int id = IDS[p.idsOff + s];
		if (id < 0 || uint(id) >= p.experts) {
			LISTS[p.listsOff + p.slots + s] = -1;
		}
	}
	barrier();
	if (tid == 0u) {
		uint g = 0u, t = 0u;
		for (uint e = 0u; e < p.experts; e++) {
			start[e] = g;
			tileStart[e] = t;
			g += count[e];
			t += (count[e] + p.ncols - 1u) / p.ncols;
		}
		tileStart[p.experts] = t;
	}
	barrier();
	for (uint e = tid; e < p.experts; e += WG) {
		uint g = start[e];
		for (uint s = 0u; s < p.slots; s++) {
			if (IDS[p.idsOff + s] == int(e)) {
				LISTS[p.listsOff + g] = int(p.sharedInput != 0u ? s / p.used : s);
				LISTS[p.listsOff + p.slots + s] = int(g);
				g++;
			}
		}
		for (uint t = tileStart[e]; t < tileStart[e + 1u]; t++) {
			uint first = (t - tileStart[e]) * p.ncols;
			TILES[p.tilesOff + 3u * t] = e;
			TILES[p.tilesOff + 3u * t + 1u] = start[e] + first;
			TILES[p.tilesOff + 3u * t + 2u] = min(p.ncols, count[e] - first);
		}
	}
	for (uint t = tileStart[p.experts] + tid; t < p.tiles; t += WG) {
		TILES[p.tilesOff + 3u * t] = 0u;
		TILES[p.tilesOff + 3u * t + 1u] = 0u;
		TILES[p.tilesOff + 3u * t + 2u] = 0u;
	}
}
