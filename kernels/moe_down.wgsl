// MoE expert FFN, part 2 (src/kernels/moe.ts): out = act down for tiles of RT rows; one invocation per (tile,
// vec4 column of the hidden dim), walking the intermediate four at a time with RT vec4 accumulators.
// Weights [expert][inter][hidden] (hidden fastest).

// #include "moe_ffn_tiles.wgsl"

@group(0) @binding(1) var<storage, read> act: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> w_down: array<vec4<T>>;
@group(0) @binding(7) var<storage, read_write> out: array<vec4<T>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3<u32>) {
  let hidden4 = f.hidden / 4u;
  let inter4 = f.inter / 4u;
  let job = job_of(wid, lid, groups, hidden4);
  if (job.rows == 0u) {
    return;
  }
  var offsets = row_offsets(job, inter4);
  var acc: array<vec4<f32>, RT>;
  var w = job.expert * f.inter * hidden4 + job.column;
  for (var i4 = 0u; i4 < inter4; i4++) {
    let d0 = vec4<f32>(w_down[w]);
    let d1 = vec4<f32>(w_down[w + hidden4]);
    let d2 = vec4<f32>(w_down[w + 2u * hidden4]);
    let d3 = vec4<f32>(w_down[w + 3u * hidden4]);
    w += 4u * hidden4;
    for (var r = 0u; r < RT; r++) {
      let a = act[offsets[r] + i4];
      acc[r] += a.x * d0 + a.y * d1 + a.z * d2 + a.w * d3;
    }
  }
  for (var r = 0u; r < job.rows; r++) {
    out[(job.first + r) * hidden4 + job.column] = vec4<T>(acc[r]);
  }
}
