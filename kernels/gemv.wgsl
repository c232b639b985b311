// GEMV for one or few rows (src/kernels/gemm/): C[z] = A[z] B[z] with A of up to ROWS rows per workgroup, f32
// accumulation. The GPU kernel for decode-sized products, whose cost is streaming B once.
//
// A workgroup of WG_N x KS invocations owns WG_N vec4 columns of C and ROWS rows: invocation (column t, slice s)
// walks the k vec4s s, s + KS, ... and for each reads the 4 B rows' vec4 of its column (the WG_N invocations of a
// slice read WG_N consecutive vec4s of each row: coalesced) and the vec4 of every A row (the same address across
// the slice: a broadcast). The KS slices' partial sums meet in workgroup memory; slice s then sums row s, s + KS, ...
// Each B element is read once per ROWS rows.
//
// A and B are read as vec4s (offsets and strides in whole vec4s); a k that is not a multiple of 4 leaves
// padding in the last vec4 of an A row, masked to zero here (the B rows past k re-read the last one and are
// multiplied by that zero). C is written element by element.
override WG_N: u32 = 32;
override KS: u32 = 8;
// ROWS (rows per workgroup) comes from the host (StageDecl.sizes): private arrays need constant lengths.

// The uniform block declared in src/kernels/gemm/uniforms.ts. In elements: row r of batch entry z starts at
// off + z zs + (r / seg) outer + (r % seg) row.
struct Addr {
  off: u32,
  zs: u32,
  outer: u32,
  row: u32,
  seg: u32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
}

struct Params {
  m: u32,
  n: u32,
  k: u32,
  n4: u32,
  k4: u32,
  col_blocks: u32,
  row_blocks: u32,
  batch: u32,
  a: Addr,
  b: Addr,
  c: Addr,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a_mat: array<vec4<T>>;
@group(0) @binding(2) var<storage, read> b_mat: array<vec4<T>>;
@group(0) @binding(3) var<storage, read_write> c_mat: array<T>;

fn row_at(addr: Addr, z: u32, r: u32) -> u32 {
  return addr.off + z * addr.zs + (r / addr.seg) * addr.outer + (r % addr.seg) * addr.row;
}

var<workgroup> partial: array<vec4<f32>, KS * ROWS * WG_N>;

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
  let c4 = (flat % p.col_blocks) * WG_N + t;
  let m0 = rb * ROWS;
  var a_row: array<u32, ROWS>;
  for (var r = 0u; r < ROWS; r++) { a_row[r] = row_at(p.a, z, min(m0 + r, p.m - 1u)) / 4u; }
  let b_col = (p.b.off + z * p.b.zs) / 4u + min(c4, p.n4 - 1u);
  let b_row4 = p.b.row / 4u;
  let last = p.k - 1u;

  var acc: array<vec4<f32>, ROWS>;
  for (var kq = s; kq < p.k4; kq += KS) {
    let k = kq * 4u;
    let b0 = vec4<f32>(b_mat[b_col + k * b_row4]);
    let b1 = vec4<f32>(b_mat[b_col + min(k + 1u, last) * b_row4]);
    let b2 = vec4<f32>(b_mat[b_col + min(k + 2u, last) * b_row4]);
    let b3 = vec4<f32>(b_mat[b_col + min(k + 3u, last) * b_row4]);
    let valid = (vec4<u32>(k) + vec4<u32>(0u, 1u, 2u, 3u)) < vec4<u32>(p.k);
    for (var r = 0u; r < ROWS; r++) {
      let a = select(vec4<f32>(0.0), vec4<f32>(a_mat[a_row[r] + kq]), valid);
      acc[r] = fma(vec4<f32>(a.w), b3, fma(vec4<f32>(a.z), b2, fma(vec4<f32>(a.y), b1, fma(vec4<f32>(a.x), b0, acc[r]))));
    }
  }
  for (var r = 0u; r < ROWS; r++) { partial[(r * KS + s) * WG_N + t] = acc[r]; }
  workgroupBarrier();
  for (var r = s; r < ROWS; r += KS) {
    var sum = vec4<f32>(0.0);
    for (var q = 0u; q < KS; q++) { sum += partial[(r * KS + q) * WG_N + t]; }
    let row = m0 + r;
    if (row < p.m && c4 < p.n4) {
      let c_row = row_at(p.c, z, row);
      for (var e = 0u; e < 4u; e++) {
        if (c4 * 4u + e < p.n) { c_mat[c_row + c4 * 4u + e] = T(sum[e]); }
      }
    }
  }
}
