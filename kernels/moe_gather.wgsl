// MoE permute, part 2 (src/kernels/moe.ts): one invocation per (row, vec4 column) of the padded layout copies
// token sorted_ids[row] / top_k's activations into row `row` of xp; padding rows are left untouched.
override WG: u32 = 64;

// #include "moe_align_params.wgsl"

@group(0) @binding(1) var<storage, read> x: array<vec4<T>>;
@group(0) @binding(2) var<storage, read> sorted_ids: array<u32>;
@group(0) @binding(3) var<storage, read> total: array<u32>;
@group(0) @binding(4) var<storage, read_write> xp: array<vec4<T>>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let index = gid.x + gid.y * groups.x * WG;
  let row = index / p.hidden4;
  if (row >= total[0]) {
    return;
  }
  let pair = sorted_ids[row];
  if (pair >= p.pairs) {
    return;
  }
  xp[index] = x[(pair / p.top_k) * p.hidden4 + index % p.hidden4];
}
