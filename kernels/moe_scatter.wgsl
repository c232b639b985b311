// MoE permute, part 1 (src/kernels/moe.ts): one invocation per chunk walks its pairs in order and places each at
// its expert's next row (a cursor row copied from chunk_rows, the chunk's first absolute rows from moe_scan.wgsl):
// sorted_ids[row] = pair, positions[pair] = row.
override WG: u32 = 64;

// #include "moe_align_params.wgsl"

@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> chunk_rows: array<u32>;
@group(0) @binding(3) var<storage, read_write> sorted_ids: array<u32>;
@group(0) @binding(4) var<storage, read_write> positions: array<u32>;
@group(0) @binding(5) var<storage, read_write> cursor: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let chunk = gid.x;
  if (chunk >= p.chunks) {
    return;
  }
  let row = chunk * p.experts;
  for (var e = 0u; e < p.experts; e++) {
    cursor[row + e] = chunk_rows[row + e];
  }
  let end = min(p.pairs, (chunk + 1u) * p.chunk);
  for (var q = chunk * p.chunk; q < end; q++) {
    let slot = row + ids[q];
    let destination = cursor[slot];
    cursor[slot] = destination + 1u;
    sorted_ids[destination] = q;
    positions[q] = destination;
  }
}
