// GEMM, workgroup-memory tiles (src/kernels/gemm/): C[z] = A[z] B[z], f32 accumulation. The GPU kernel.
//
// A workgroup of WG_N x WG_M invocations owns a BM x (4 BN4) block of C (BM = WG_M TM rows, BN4 = WG_N TN4 vec4
// columns) and walks k in tiles of BK4 vec4s: it stages the A tile [BM][BK4] and the B tile [4 BK4][BN4] in
// workgroup memory with coalesced vec4 loads (consecutive invocations read consecutive vec4s of a row: along k
// for A, along n for B), then every invocation accumulates its TM rows (WG_M apart) x TN4 vec4 columns (WG_N
// apart) in registers: per vec4 of k, TM + 4 TN4 vec4 reads of workgroup memory feed 16 TM TN4 multiply-adds.
// Reads are conflict-free: an A vec4 is the same for all invocations of a row of the workgroup (a broadcast)
// and the two rows a 32-wide subgroup spans sit BK4 + 1 vec4s apart (the padding vec4 shifts each row's
// banks); B reads are consecutive vec4s across consecutive invocations. Each tile is staged in f32, so f16
// inputs are converted once per load, not once per use.
//
// A and B are read as vec4s (offsets and strides in whole vec4s); a k that is not a multiple of 4 leaves
// padding in the last vec4 of an A row, masked to zero here; rows, columns and k past the matrix stage zeros.
// C is written element by element.
override WG_M: u32 = 16;
override WG_N: u32 = 16;
override BK4: u32 = 4;
// TM (rows per invocation) and TN4 (vec4 columns per invocation) come from the host (StageDecl.sizes): private
// arrays need constant lengths.
override BM: u32 = WG_M * TM;
override BN4: u32 = WG_N * TN4;
override A_STRIDE: u32 = BK4 + 1u;

// #include "gemm_common.wgsl"
@group(0) @binding(2) var<storage, read> b_mat: array<vec4<T>>;

var<workgroup> a_tile: array<vec4<f32>, BM * A_STRIDE>;
var<workgroup> b_tile: array<vec4<f32>, BK4 * 4u * BN4>;

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(local_invocation_id) local: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let flat = wid.x + wid.y * groups.x;
  let rb = flat / p.col_blocks;
  if (rb >= p.row_blocks) {
    return;
  }
  let z = wid.z;
  let m0 = rb * BM;
  let n40 = (flat % p.col_blocks) * BN4;
  let threads = WG_M * WG_N;
  let b_base = (p.b.off + z * p.b.zs) / 4u;
  let b_row4 = p.b.row / 4u;

  var acc: array<vec4<f32>, TM * TN4>;
  for (var k40 = 0u; k40 < p.k4; k40 += BK4) {
    for (var i = lid; i < BM * BK4; i += threads) {
      let r = i / BK4;
      let kq = i % BK4;
      let row = m0 + r;
      let ka = k40 + kq;
      var v = vec4<f32>(0.0);
      if (row < p.m && ka < p.k4) {
        let valid = (vec4<u32>(ka * 4u) + vec4<u32>(0u, 1u, 2u, 3u)) < vec4<u32>(p.k);
        v = select(vec4<f32>(0.0), vec4<f32>(a_mat[row_at(p.a, z, row) / 4u + ka]), valid);
      }
      a_tile[r * A_STRIDE + kq] = v;
    }
    for (var i = lid; i < BK4 * 4u * BN4; i += threads) {
      let kr = i / BN4;
      let c = i % BN4;
      let kk = k40 * 4u + kr;
      let col = n40 + c;
      var v = vec4<f32>(0.0);
      if (kk < p.k && col < p.n4) {
        v = vec4<f32>(b_mat[b_base + kk * b_row4 + col]);
      }
      b_tile[kr * BN4 + c] = v;
    }
    workgroupBarrier();
    for (var kq = 0u; kq < BK4; kq++) {
      var av: array<vec4<f32>, TM>;
      for (var i = 0u; i < TM; i++) { av[i] = a_tile[(local.y + i * WG_M) * A_STRIDE + kq]; }
      for (var j = 0u; j < TN4; j++) {
        let b = (kq * 4u) * BN4 + local.x + j * WG_N;
        let b0 = b_tile[b];
        let b1 = b_tile[b + BN4];
        let b2 = b_tile[b + 2u * BN4];
        let b3 = b_tile[b + 3u * BN4];
        for (var i = 0u; i < TM; i++) {
          let a = av[i];
          acc[i * TN4 + j] = fma(vec4<f32>(a.w), b3, fma(vec4<f32>(a.z), b2, fma(vec4<f32>(a.y), b1, fma(vec4<f32>(a.x), b0, acc[i * TN4 + j]))));
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < TM; i++) {
    let row = m0 + local.y + i * WG_M;
    if (row >= p.m) {
      break;
    }
    let c_row = row_at(p.c, z, row);
    for (var j = 0u; j < TN4; j++) {
      let c4 = n40 + local.x + j * WG_N;
      let v = acc[i * TN4 + j];
      for (var e = 0u; e < 4u; e++) {
        if (c4 * 4u + e < p.n) { c_mat[c_row + c4 * 4u + e] = T(v[e]); }
      }
    }
  }
}
