// MoE expert FFN, part 1 (src/kernels/moe.ts): act = silu(rows gate) * (rows up) for tiles of RT rows; one
// invocation per (tile, vec4 column of the intermediate), walking the hidden dim four at a time with RT x 2 vec4 accumulators
// (vec4 loads of the rows: on CPU adapters every load is a per-lane gather, so fewer, wider loads pay).
// Weights [expert][hidden][inter] (inter fastest): neighbouring invocations read neighbouring columns.
// #include "moe_ffn_tiles.wgsl"

@group(0) @binding(1) var<storage, read> rows_in: array<vec4<T>>;
@group(0) @binding(6) var<storage, read> w_gate: array<vec4<T>>;
@group(0) @binding(7) var<storage, read> w_up: array<vec4<T>>;
@group(0) @binding(8) var<storage, read_write> act: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3<u32>) {
  let inter4 = f.inter / 4u;
  let hidden4 = f.hidden / 4u;
  let job = job_of(wid, lid, groups, inter4);
  if (job.rows == 0u) {
    return;
  }
  var offsets = row_offsets(job, hidden4);
  var acc_gate: array<vec4<f32>, RT>;
  var acc_up: array<vec4<f32>, RT>;
  var w = job.expert * f.hidden * inter4 + job.column;
  for (var h4 = 0u; h4 < hidden4; h4++) {
    let g0 = vec4<f32>(w_gate[w]);
    let g1 = vec4<f32>(w_gate[w + inter4]);
    let g2 = vec4<f32>(w_gate[w + 2u * inter4]);
    let g3 = vec4<f32>(w_gate[w + 3u * inter4]);
    let u0 = vec4<f32>(w_up[w]);
    let u1 = vec4<f32>(w_up[w + inter4]);
    let u2 = vec4<f32>(w_up[w + 2u * inter4]);
    let u3 = vec4<f32>(w_up[w + 3u * inter4]);
    w += 4u * inter4;
    for (var r = 0u; r < RT; r++) {
      let xv = vec4<f32>(rows_in[offsets[r] + h4]);
      acc_gate[r] += xv.x * g0 + xv.y * g1 + xv.z * g2 + xv.w * g3;
      acc_up[r] += xv.x * u0 + xv.y * u1 + xv.z * u2 + xv.w * u3;
    }
  }
  for (var r = 0u; r < job.rows; r++) {
    let g = acc_gate[r];
    act[(job.first + r) * inter4 + job.column] = g / (vec4<f32>(1.0) + exp(-g)) * acc_up[r];
  }
}
