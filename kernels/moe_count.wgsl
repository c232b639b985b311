// MoE align, part 1 (src/kernels/moe.ts): one invocation per chunk of (token, slot) pairs counts its pairs per
// expert into its own row of hist [chunks][experts]. No atomics: the counts, and so the order the scatter
// assigns within an expert (ascending pair index), are deterministic.
override WG: u32 = 64;

// #include "moe_align_params.wgsl"

@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> hist: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let chunk = gid.x;
  if (chunk >= p.chunks) {
    return;
  }
  let row = chunk * p.experts;
  for (var e = 0u; e < p.experts; e++) {
    hist[row + e] = 0u;
  }
  let end = min(p.pairs, (chunk + 1u) * p.chunk);
  for (var q = chunk * p.chunk; q < end; q++) {
    hist[row + ids[q]] += 1u;
  }
}
