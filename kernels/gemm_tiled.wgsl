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
// padding in the last vec4 of an A row, masked to zero here; rows (past the matrix, or grouped padding rows),
// columns and k past the matrix stage zeros. C is written element by element.
//
// SwiGLU (DUAL = 2): the B tile also holds the same columns of the up matrix (p.pair elements further along B's
// rows) and each invocation accumulates both, so every A value read from workgroup memory feeds both products;
// C = silu(A B) * (A B'). Grouped rows (`main_grouped`): the BM rows of a workgroup lie in one block, whose B comes
// from group_of (kernels/include/gemm_common.wgsl).
override WG_M: u32 = 16;
override WG_N: u32 = 16;
override BK4: u32 = 4;
// TM (rows per invocation), TN4 (vec4 columns per invocation and matrix) and DUAL (B matrices: 2 for SwiGLU) come
// from the host (StageDecl.sizes): private arrays need constant lengths.
override BM: u32 = WG_M * TM;
override BN4: u32 = WG_N * TN4;
override A_STRIDE: u32 = BK4 + 1u;

// #include "gemm_common.wgsl"
@group(0) @binding(2) var<storage, read> b_mat: array<vec4<T>>;

var<workgroup> a_tile: array<vec4<f32>, BM * A_STRIDE>;
var<workgroup> b_tile: array<vec4<f32>, BK4 * 4u * BN4 * DUAL>;
// 1 where a row of the workgroup's block runs (and is read and stored), else 0.
var<workgroup> row_runs: array<u32, BM>;

// The workgroup's block: rows m0 .. m0 + BM - 1 (those marked in row_runs), B from element b_start.
fn gemm_block(local: vec3<u32>, lid: u32, flat: u32, z: u32, m0: u32, b_start: u32) {
  let n40 = (flat % p.col_blocks) * BN4;
  let threads = WG_M * WG_N;
  let b_base = b_start / 4u;
  let b_row4 = p.b.row / 4u;
  let b_width = BN4 * DUAL;

  var acc: array<vec4<f32>, TM * TN4 * DUAL>;
  for (var k40 = 0u; k40 < p.k4; k40 += BK4) {
    for (var i = lid; i < BM * BK4; i += threads) {
      let r = i / BK4;
      let kq = i % BK4;
      let row = m0 + r;
      let ka = k40 + kq;
      var v = vec4<f32>(0.0);
      if (row_runs[r] != 0u && ka < p.k4) {
        let valid = (vec4<u32>(ka * 4u) + vec4<u32>(0u, 1u, 2u, 3u)) < vec4<u32>(p.k);
        v = select(vec4<f32>(0.0), vec4<f32>(a_mat[row_at(p.a, z, row) / 4u + ka]), valid);
      }
      a_tile[r * A_STRIDE + kq] = v;
    }
    // B tile row kr: BN4 vec4 columns of the gate (or only) matrix, then (DUAL = 2) the same of the up matrix.
    for (var i = lid; i < BK4 * 4u * b_width; i += threads) {
      let kr = i / b_width;
      let c = i % b_width;
      let d = c / BN4;
      let kk = k40 * 4u + kr;
      let col = n40 + c % BN4;
      var v = vec4<f32>(0.0);
      if (kk < p.k && col < p.n4) {
        v = vec4<f32>(b_mat[b_base + d * (p.pair / 4u) + kk * b_row4 + col]);
      }
      b_tile[kr * b_width + c] = v;
    }
    workgroupBarrier();
    for (var kq = 0u; kq < BK4; kq++) {
      var av: array<vec4<f32>, TM>;
      for (var i = 0u; i < TM; i++) { av[i] = a_tile[(local.y + i * WG_M) * A_STRIDE + kq]; }
      for (var j = 0u; j < TN4 * DUAL; j++) {
        let b = (kq * 4u) * b_width + (j / TN4) * BN4 + local.x + (j % TN4) * WG_N;
        let b0 = b_tile[b];
        let b1 = b_tile[b + b_width];
        let b2 = b_tile[b + 2u * b_width];
        let b3 = b_tile[b + 3u * b_width];
        for (var i = 0u; i < TM; i++) {
          let a = av[i];
          let o = i * TN4 * DUAL + j;
          acc[o] = fma(vec4<f32>(a.w), b3, fma(vec4<f32>(a.z), b2, fma(vec4<f32>(a.y), b1, fma(vec4<f32>(a.x), b0, acc[o]))));
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < TM; i++) {
    let r = local.y + i * WG_M;
    if (row_runs[r] == 0u) {
      continue;
    }
    let c_row = row_at(p.c, z, m0 + r);
    for (var j = 0u; j < TN4; j++) {
      let c4 = n40 + local.x + j * WG_N;
      let v = acc[i * TN4 * DUAL + j];
      let u = acc[i * TN4 * DUAL + (DUAL - 1u) * TN4 + j];
      for (var e = 0u; e < 4u; e++) {
        if (c4 * 4u + e < p.n) { c_mat[c_row + c4 * 4u + e] = T(epilogue(v[e], u[e])); }
      }
    }
  }
}

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(local_invocation_id) local: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let flat = wid.x + wid.y * groups.x;
  let rb = flat / p.col_blocks;
  if (rb >= p.row_blocks) {
    return;
  }
  let m0 = rb * BM;
  for (var r = lid; r < BM; r += WG_M * WG_N) { row_runs[r] = select(0u, 1u, m0 + r < p.m); }
  workgroupBarrier();
  gemm_block(local, lid, flat, wid.z, m0, p.b.off + wid.z * p.b.zs);
}

// Grouped rows: the block's rows lie in one group block (BM divides p.block); blocks past the rows that run stop here.
@compute @workgroup_size(WG_N, WG_M)
fn main_grouped(@builtin(local_invocation_id) local: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let flat = wid.x + wid.y * groups.x;
  let rb = flat / p.col_blocks;
  let rows = grouped_rows();
  let m0 = rb * BM;
  if (rb >= p.row_blocks || m0 >= rows) {
    return;
  }
  for (var r = lid; r < BM; r += WG_M * WG_N) { row_runs[r] = select(0u, 1u, m0 + r < rows && grouped_row_ok(m0 + r)); }
  workgroupBarrier();
  gemm_block(local, lid, flat, 0u, m0, grouped_b_base(m0));
}
