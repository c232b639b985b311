// Attention decode, split-KV, stage 2 of 2: merge the splits' partials (attention_decode.wgsl) into the output.
// One invocation per output element (row, column); a row is one (batch, query position, query head):
//   M = max_s m_s,  O = sum_s exp2(m_s - M) o_s / sum_s exp2(m_s - M) l_s   (rows that saw no token: 0)
// Layouts: part_o [rows][n_splits][D_V] f32, part_ml [rows][n_splits] (m, l), out [rows][D_V] in T.
override WG: u32 = 64;
override D_V: u32 = 128;

struct Params {
  rows: u32,      // batch * q_len * n_q
  n_splits: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> part_o: array<f32>;
@group(0) @binding(2) var<storage, read> part_ml: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<T>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= params.rows * D_V) {
    return;
  }
  let row = i / D_V;
  let c = i % D_V;
  let base = row * params.n_splits;
  var m = -1.0e30;
  for (var s = 0u; s < params.n_splits; s++) {
    m = max(m, part_ml[base + s].x);
  }
  var l = 0.0;
  var o = 0.0;
  for (var s = 0u; s < params.n_splits; s++) {
    let ml = part_ml[base + s];
    let w = exp2(ml.x - m);
    l = fma(ml.y, w, l);
    o = fma(part_o[(base + s) * D_V + c], w, o);
  }
  out[i] = T(select(o / l, 0.0, l == 0.0));
}
