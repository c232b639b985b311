// Batched GEMM for the MLA projections: C[z][m][n] = sum_k A[z][m][k] * B[z][k][n] (f32 accumulation),
// with strided addressing so one kernel writes straight into the layouts the next stage reads (the
// attention core's [batch][head][token][dim] K/V, a 576-wide absorbed query row, a cache slot, ...).
//
// Rows are addressed as (z, m) -> off + z * zs + (m / seg) * outer + (m % seg) * row: `seg` consecutive rows
// (e.g. the tokens of one sequence) are `row` apart and segments `outer` apart. A and C use that form, B is
// [z][k][n] with row stride b.row. All offsets and strides are in vec4s (the dims are multiples of 4).
//
// An invocation owns TM rows x TN vec4 columns (WG apart); the invocations of a workgroup run along n and share their
// rows, so A loads are uniform across the workgroup (one scalar load feeds every lane on CPU adapters; a
// broadcast from cache on GPUs) and B loads are contiguous across lanes.
override WG: u32 = 64;
override TM: u32 = 4;
override TN: u32 = 1;

const MAX_TM: u32 = 8u;
const MAX_TILE: u32 = 16u;

// #include "mla_addr.wgsl"

struct Params {
  m: u32,
  n4: u32,
  k4: u32,
  n_blocks: u32,   // ceil(n4 / (WG * TN))
  row_blocks: u32, // ceil(m / TM)
  _p0: u32, _p1: u32, _p2: u32, // the addresses at 32 bytes (a uniform struct member is 16-byte aligned)
  a: Addr,
  b: Addr,
  c: Addr,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a_mat: array<vec4<T>>;
@group(0) @binding(2) var<storage, read> b_mat: array<vec4<T>>;
@group(0) @binding(3) var<storage, read_write> c_mat: array<vec4<T>>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let flat = wid.x + wid.y * groups.x;
  let nb = flat % params.n_blocks;
  let rb = flat / params.n_blocks;
  let z = wid.z;
  if (rb >= params.row_blocks) {
    return;
  }
  let m0 = rb * TM;
  // Column j of this invocation is n0 + j * WG: for each j the lanes of a workgroup read neighbouring vec4s
  // of a B row (one or two cache lines per gather on CPU adapters, coalesced on GPUs).
  let n0 = nb * WG * TN + lid;
  if (n0 >= params.n4) {
    return;
  }
  var a_row: array<u32, MAX_TM>;
  for (var i = 0u; i < TM; i++) { a_row[i] = row_at(params.a, z, min(m0 + i, params.m - 1u)); }
  var b_col: array<u32, MAX_TM>;
  for (var j = 0u; j < TN; j++) { b_col[j] = params.b.off + z * params.b.zs + min(n0 + j * WG, params.n4 - 1u); }
  var acc: array<vec4<f32>, MAX_TILE>;
  for (var i = 0u; i < TM * TN; i++) { acc[i] = vec4<f32>(0.0); }

  for (var k4 = 0u; k4 < params.k4; k4++) {
    var a: array<vec4<f32>, MAX_TM>;
    for (var i = 0u; i < TM; i++) { a[i] = vec4<f32>(a_mat[a_row[i] + k4]); }
    let k_row = k4 * 4u * params.b.row;
    for (var j = 0u; j < TN; j++) {
      let b0 = vec4<f32>(b_mat[b_col[j] + k_row]);
      let b1 = vec4<f32>(b_mat[b_col[j] + k_row + params.b.row]);
      let b2 = vec4<f32>(b_mat[b_col[j] + k_row + 2u * params.b.row]);
      let b3 = vec4<f32>(b_mat[b_col[j] + k_row + 3u * params.b.row]);
      for (var i = 0u; i < TM; i++) {
        let ai = a[i];
        acc[i * TN + j] = fma(vec4<f32>(ai.w), b3, fma(vec4<f32>(ai.z), b2, fma(vec4<f32>(ai.y), b1, fma(vec4<f32>(ai.x), b0, acc[i * TN + j]))));
      }
    }
  }

  for (var i = 0u; i < TM; i++) {
    if (m0 + i >= params.m) { break; }
    let c_row = row_at(params.c, z, m0 + i);
    for (var j = 0u; j < TN; j++) {
      if (n0 + j * WG < params.n4) { c_mat[c_row + n0 + j * WG] = vec4<T>(acc[i * TN + j]); }
    }
  }
}
