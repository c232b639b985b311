// MoE align, part 2 (src/kernels/moe.ts), one workgroup: per expert, an exclusive scan of hist over the chunks
// and the expert's count; an exclusive prefix sum of the counts padded to the block size (expert starts, padded
// total); chunk_rows[chunk][expert] = the chunk's first absolute row for that expert; padding rows and every row
// past the padded total get the sentinel (= pairs), and each block its expert (experts past the total).
// Reads hist, never writes it: every phase can be rerun on its own.
override WG: u32 = 256;
const MAX_EXPERTS: u32 = 1024u;

// #include "moe_align_params.wgsl"

@group(0) @binding(1) var<storage, read> hist: array<u32>;
@group(0) @binding(2) var<storage, read_write> counts: array<u32>;
@group(0) @binding(3) var<storage, read_write> starts: array<u32>;
@group(0) @binding(4) var<storage, read_write> sorted_ids: array<u32>;
@group(0) @binding(5) var<storage, read_write> block_expert: array<u32>;
@group(0) @binding(6) var<storage, read_write> total: array<u32>;
@group(0) @binding(7) var<storage, read_write> chunk_rows: array<u32>;

var<workgroup> w_counts: array<u32, MAX_EXPERTS>;
var<workgroup> w_starts: array<u32, 1025>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  let experts = p.experts;
  for (var e = lid; e < experts; e += WG) {
    var running = 0u;
    for (var c = 0u; c < p.chunks; c++) {
      chunk_rows[c * experts + e] = running;
      running += hist[c * experts + e];
    }
    counts[e] = running;
    w_counts[e] = running;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var start = 0u;
    for (var e = 0u; e < experts; e++) {
      w_starts[e] = start;
      starts[e] = start;
      start += (w_counts[e] + p.block - 1u) / p.block * p.block;
    }
    w_starts[experts] = start;
    starts[experts] = start;
    total[0] = start;
  }
  workgroupBarrier();
  for (var e = lid; e < experts; e += WG) {
    let start = w_starts[e];
    let end = w_starts[e + 1u];
    for (var c = 0u; c < p.chunks; c++) {
      chunk_rows[c * experts + e] += start;
    }
    for (var r = start + w_counts[e]; r < end; r++) {
      sorted_ids[r] = p.pairs;
    }
    for (var b = start / p.block; b < end / p.block; b++) {
      block_expert[b] = e;
    }
  }
  let padded = w_starts[experts];
  for (var r = padded + lid; r < p.capacity; r += WG) {
    sorted_ids[r] = p.pairs;
  }
  for (var b = padded / p.block + lid; b < p.capacity / p.block; b += WG) {
    block_expert[b] = experts;
  }
}
