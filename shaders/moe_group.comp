#version 450
#extension GL_GOOGLE_include_directive : require
// moe_group: MatMulID's grouping of slots by expert, on the device (one
// workgroup). Slot s = i*used + j is token i's j-th chosen expert IDS[s].
// Grouped row g lists the slots of expert 0, then of expert 1, ..., each
// expert's in slot order:
//   GATHER[g]  the x row grouped row g multiplies (s, or s/used when the
//              tokens' experts share one input row),
//   SCATTER[s] the grouped row of slot s (-1 for an id out of range),
//   TILES      matmul_id's tile tables, one per window of windowExperts
//              experts (a stack too large for one binding is multiplied a
//              window at a time), window w's at word w*windowStride: entry
//              3t..3t+2 is a tile of at most NCOLS grouped rows of one
//              expert, (expert within the window, first grouped row, rows),
//              or (0, 0, 0) for an empty one. A window's table has p.tiles
//              entries; its T tiles in expert order go to entries
//              floor(j*p.tiles/T), j < T, so the empty ones are spread
//              evenly: lavapipe gives each thread an equal run of a grid's
//              workgroups, and empty ones at the end would idle the last.
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
	uint tiles;       // entries of a window's table (at most 65535)
	uint windowExperts, windowStride; // experts of a window; words between tables
} p;

shared uint count[MAX_EXPERTS];
shared uint start[MAX_EXPERTS];
shared uint tileStart[MAX_EXPERTS + 1u];

// windowTiles is the number of tiles of window w's experts.
uint windowTiles(uint w) {
	uint e0 = w * p.windowExperts, e1 = min(p.experts, e0 + p.windowExperts);
	return tileStart[e1] - tileStart[e0];
}

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
		uint w = e / p.windowExperts, e0 = w * p.windowExperts;
		uint nt = windowTiles(w), table = p.tilesOff + w * p.windowStride;
		for (uint t = tileStart[e]; t < tileStart[e + 1u]; t++) {
			uint first = (t - tileStart[e]) * p.ncols;
			// j*p.tiles < 65535*65535 fits 32 bits.
			uint at = table + 3u * ((t - tileStart[e0]) * p.tiles / nt);
			TILES[at] = e - e0;
			TILES[at + 1u] = start[e] + first;
			TILES[at + 2u] = min(p.ncols, count[e] - first);
		}
	}
	// Entry i of a table holds a tile iff i = floor(j*tiles/T) for some j < T,
	// j = ceil(i*T/tiles) (the map is increasing in steps of at least 1).
	uint windows = (p.experts + p.windowExperts - 1u) / p.windowExperts;
	for (uint x = tid; x < windows * p.tiles; x += WG) {
		uint w = x / p.tiles, i = x % p.tiles, nt = windowTiles(w);
		uint j = (i * nt + p.tiles - 1u) / p.tiles;
		if (j >= nt || j * p.tiles / nt != i) {
			uint at = p.tilesOff + w * p.windowStride + 3u * i;
			TILES[at] = 0u;
			TILES[at + 1u] = 0u;
			TILES[at + 2u] = 0u;
		}
	}
}
