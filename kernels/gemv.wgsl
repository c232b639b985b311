// GEMV for one or few rows (src/kernels/gemm/): C[z] = A[z] B[z] with A of up to ROWS rows per workgroup, f32
// accumulation. The GPU kernel for decode-sized products, whose cost is streaming B once.
//
// B is read in 16-byte units (one vec4<u32>: 4 f32 or 8 f16 columns, PACK vec4s of columns): a full 16-byte load
// per invocation whatever the storage type. A workgroup of WG_N x KS invocations owns WG_N units of columns of C and
// ROWS rows: invocation (column t, slice s) walks the k vec4s s, s + KS, ... and for each reads the 4 B rows' unit
// of its column (the WG_N invocations of a slice read WG_N consecutive units of each row: coalesced) and the vec4 of
// every A row (the same address across the slice: a broadcast). The KS slices' partial sums meet in workgroup
// memory; slice s then sums row s, s + KS, ... Each B element is read once per ROWS rows.
//
// A is read as vec4s, B as 16-byte units (offsets and strides in whole vec4s of A, whole units of B); a k that is
// not a multiple of 4 leaves padding in the last vec4 of an A row, masked to zero here (the B rows past k re-read
// the last one and are multiplied by that zero). C is written element by element.
override WG_N: u32 = 32;
override KS: u32 = 8;
// ROWS (rows per workgroup) and PACK (vec4s of columns per B unit: 4 / PACK bytes per element) come from the host
// (StageDecl.sizes): private arrays need constant lengths.
const UNIT: u32 = 4u * PACK;

// #include "gemm_common.wgsl"
@group(0) @binding(2) var<storage, read> b_units: array<vec4<u32>>;

var<workgroup> partial: array<vec4<f32>, KS * ROWS * PACK * WG_N>;

// The PACK vec4s of columns in B unit i.
fn b_unit(i: u32) -> array<vec4<f32>, PACK> {
  let u = b_units[i];
  var out: array<vec4<f32>, PACK>;
  if (PACK == 1u) {
    out[0] = bitcast<vec4<f32>>(u);
  } else {
    out[0] = vec4<f32>(unpack2x16float(u.x), unpack2x16float(u.y));
    out[PACK - 1u] = vec4<f32>(unpack2x16float(u.z), unpack2x16float(u.w));
  }
  return out;
}

@compute @workgroup_size(WG_N * KS)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let flat = wid.x + wid.y * groups.x;
  let rb = flat / p.col_blocks;
  if (rb >= p.row_blocks) {
    return;
  }
  let z = wid.z;
  let t = lid % WG_N;
  let s = lid / WG_N;
  let cu = (flat % p.col_blocks) * WG_N + t;
  let units = (p.n + UNIT - 1u) / UNIT;
  let m0 = rb * ROWS;
  var a_row: array<u32, ROWS>;
  for (var r = 0u; r < ROWS; r++) { a_row[r] = row_at(p.a, z, min(m0 + r, p.m - 1u)) / 4u; }
  let b_col = (p.b.off + z * p.b.zs) / UNIT + min(cu, units - 1u);
  let b_row = p.b.row / UNIT;
  let last = p.k - 1u;

  var acc: array<vec4<f32>, ROWS * PACK>;
  for (var kq = s; kq < p.k4; kq += KS) {
    let k = kq * 4u;
    let b0 = b_unit(b_col + k * b_row);
    let b1 = b_unit(b_col + min(k + 1u, last) * b_row);
    let b2 = b_unit(b_col + min(k + 2u, last) * b_row);
    let b3 = b_unit(b_col + min(k + 3u, last) * b_row);
    let valid = (vec4<u32>(k) + vec4<u32>(0u, 1u, 2u, 3u)) < vec4<u32>(p.k);
    for (var r = 0u; r < ROWS; r++) {
      let a = select(vec4<f32>(0.0), vec4<f32>(a_mat[a_row[r] + kq]), valid);
      for (var h = 0u; h < PACK; h++) {
        acc[r * PACK + h] = fma(vec4<f32>(a.w), b3[h], fma(vec4<f32>(a.z), b2[h], fma(vec4<f32>(a.y), b1[h], fma(vec4<f32>(a.x), b0[h], acc[r * PACK + h]))));
      }
    }
  }
  for (var i = 0u; i < ROWS * PACK; i++) { partial[(i * KS + s) * WG_N + t] = acc[i]; }
  workgroupBarrier();
  for (var r = s; r < ROWS; r += KS) {
    let row = m0 + r;
    if (row >= p.m || cu >= units) {
      continue;
    }
    let c_row = row_at(p.c, z, row);
    for (var h = 0u; h < PACK; h++) {
      var sum = vec4<f32>(0.0);
      for (var q = 0u; q < KS; q++) { sum += partial[((r * PACK + h) * KS + q) * WG_N + t]; }
      for (var e = 0u; e < 4u; e++) {
        let col = cu * UNIT + h * 4u + e;
        if (col < p.n) { c_mat[c_row + col] = T(sum[e]); }
      }
    }
  }
}
