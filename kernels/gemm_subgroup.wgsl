enable subgroups;
// GEMM, register tiles shared across a lane group (src/kernels/gemm/): C[z] = A[z] B[z], f32 accumulation.
// The CPU-adapter kernel (lavapipe), and the GEMV of one or few rows there.
//
// B is read in 16-byte units (one vec4<u32>: 4 f32 or 8 f16 columns, PACK vec4s of columns): on llvmpipe a
// load costs per component, so a unit of f16 brings twice the columns of a vec4<f16>. A group of LANES = 8
// consecutive lanes of a subgroup owns TM rows of C and 8 x TN units of columns: lane l the units (j * 8 + l) of
// its block, so for every j the group reads 8 neighbouring units of a B row. Every lane of a group needs the same
// A values; on llvmpipe a storage load is a per-lane loop whether or not the lanes share the address
// (docs/lavapipe.md), so the lanes load A cooperatively instead: for each block of 32 k, lane l fetches vec4 l of
// the block from each of the TM rows (8 useful vec4s per load instead of one), and every step takes the vec4 it
// needs from its owner with subgroupShuffle. Each B vec4 then feeds TM FMAs. Subgroups are assumed to hold
// consecutive local invocation indices, in multiples of 8.
//
// A is read as vec4s, B as 16-byte units (offsets and strides in whole vec4s of A, whole units of B); a k that
// is not a multiple of 4 leaves padding in the last vec4 of an A row, masked to zero here. C is written element
// by element. Rows past the matrix (and grouped padding rows) are not read (zeros) and not stored; columns past it
// re-read the last valid unit (in bounds) and are not stored; k past its end multiplies by zero.
//
// SwiGLU (DUAL = 2): each lane also holds the same columns of the up matrix (p.pair elements further along B's
// rows), so every shuffled A value feeds both products; C = silu(A B) * (A B'). Grouped rows (`main_grouped`): a
// group of lanes' TM rows lie in one block, whose B comes from group_of (kernels/include/gemm_common.wgsl).
override WG: u32 = 64;
const LANES: u32 = 8u;
// TM (rows per group), TN (B units per lane and matrix), PACK (vec4s of columns per unit: 4 / PACK bytes per
// element) and DUAL (B matrices: 2 for SwiGLU) come from the host (StageDecl.sizes): private arrays need constant
// lengths, and constant trip counts keep them in registers.
const UNIT: u32 = 4u * PACK;
const TB: u32 = TN * DUAL;

// #include "gemm_common.wgsl"
@group(0) @binding(2) var<storage, read> b_units: array<vec4<u32>>;

var<private> acc: array<vec4<f32>, TM * TB * PACK>;
var<private> a_blk: array<vec4<f32>, TM>;
var<private> b_col: array<u32, TB>;
var<private> b_row: u32;
var<private> last_k: u32;

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

// Four k (kk .. kk + 3): the four B rows' units of this lane times each row's four A values, taken from lane
// `owner` of the group; each accumulator is loaded and stored once per four FMAs.
fn step4(kk: u32, owner: u32) {
  var b0: array<array<vec4<f32>, PACK>, TB>;
  var b1: array<array<vec4<f32>, PACK>, TB>;
  var b2: array<array<vec4<f32>, PACK>, TB>;
  var b3: array<array<vec4<f32>, PACK>, TB>;
  let r0 = b_row * min(kk, last_k);
  let r1 = b_row * min(kk + 1u, last_k);
  let r2 = b_row * min(kk + 2u, last_k);
  let r3 = b_row * min(kk + 3u, last_k);
  for (var j = 0u; j < TB; j++) {
    b0[j] = b_unit(r0 + b_col[j]);
    b1[j] = b_unit(r1 + b_col[j]);
    b2[j] = b_unit(r2 + b_col[j]);
    b3[j] = b_unit(r3 + b_col[j]);
  }
  for (var r = 0u; r < TM; r++) {
    let a = subgroupShuffle(a_blk[r], owner);
    for (var j = 0u; j < TB; j++) {
      for (var h = 0u; h < PACK; h++) {
        let i = (r * TB + j) * PACK + h;
        acc[i] = fma(vec4<f32>(a.w), b3[j][h], fma(vec4<f32>(a.z), b2[j][h], fma(vec4<f32>(a.y), b1[j][h], fma(vec4<f32>(a.x), b0[j][h], acc[i]))));
      }
    }
  }
}

// One lane group's tile: rows m0 .. m0 + TM - 1 (those whose bit is set in `rows_ok`), B from element b_base.
fn gemm_tile(sl: u32, lid: u32, flat: u32, z: u32, m0: u32, b_base: u32, rows_ok: u32) {
  let lane = sl % LANES;
  let base = sl - lane;
  let group = (flat % p.col_blocks) * (WG / LANES) + lid / LANES;

  var a_row: array<u32, TM>;
  for (var r = 0u; r < TM; r++) { a_row[r] = row_at(p.a, z, m0 + r) / 4u; }
  let units = (p.n + UNIT - 1u) / UNIT;
  for (var j = 0u; j < TN; j++) {
    b_col[j] = b_base / UNIT + min((group * TN + j) * LANES + lane, units - 1u);
    if (DUAL == 2u) { b_col[TN + j] = b_col[j] + p.pair / UNIT; }
  }
  b_row = p.b.row / UNIT;
  last_k = p.k - 1u;

  for (var k0 = 0u; k0 < p.k; k0 += 4u * LANES) {
    // This lane's vec4 of the block from every row, zero past k and on rows that do not run.
    let ka = k0 / 4u + lane;
    let valid = (vec4<u32>(ka * 4u) + vec4<u32>(0u, 1u, 2u, 3u)) < vec4<u32>(p.k);
    let ka_in = min(ka, p.k4 - 1u);
    for (var r = 0u; r < TM; r++) {
      a_blk[r] = vec4<f32>(0.0);
      if ((rows_ok & (1u << r)) != 0u) { a_blk[r] = select(vec4<f32>(0.0), vec4<f32>(a_mat[a_row[r] + ka_in]), valid); }
    }
    for (var e = 0u; e < LANES; e++) {
      let kk = k0 + e * 4u;
      if (kk >= p.k) {
        break;
      }
      step4(kk, base + e);
    }
  }

  for (var r = 0u; r < TM; r++) {
    if ((rows_ok & (1u << r)) == 0u) {
      continue;
    }
    let c_row = row_at(p.c, z, m0 + r);
    for (var j = 0u; j < TN; j++) {
      let col0 = ((group * TN + j) * LANES + lane) * UNIT;
      for (var h = 0u; h < PACK; h++) {
        let v = acc[(r * TB + j) * PACK + h];
        let u = acc[(r * TB + (DUAL - 1u) * TN + j) * PACK + h];
        for (var i = 0u; i < 4u; i++) {
          let col = col0 + h * 4u + i;
          if (col < p.n) { c_mat[c_row + col] = T(epilogue(v[i], u[i])); }
        }
      }
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(subgroup_invocation_id) sl: u32, @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let flat = wid.x + wid.y * groups.x;
  let rb = flat / p.col_blocks;
  if (rb >= p.row_blocks) {
    return;
  }
  let m0 = rb * TM;
  var rows_ok = 0u;
  for (var r = 0u; r < TM; r++) { rows_ok |= select(0u, 1u << r, m0 + r < p.m); }
  gemm_tile(sl, lid, flat, wid.z, m0, p.b.off + wid.z * p.b.zs, rows_ok);
}

// Grouped rows: the tile's rows lie in one block (TM divides p.block); tiles past the rows that run, or holding
// padding only, stop here.
@compute @workgroup_size(WG)
fn main_grouped(@builtin(subgroup_invocation_id) sl: u32, @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let flat = wid.x + wid.y * groups.x;
  let rb = flat / p.col_blocks;
  let rows = grouped_rows();
  let m0 = rb * TM;
  if (rb >= p.row_blocks || m0 >= rows) {
    return;
  }
  var rows_ok = 0u;
  for (var r = 0u; r < TM; r++) {
    if (m0 + r < rows) { rows_ok |= select(0u, 1u << r, grouped_row_ok(m0 + r)); }
  }
  if (rows_ok == 0u) {
    return;
  }
  gemm_tile(sl, lid, flat, 0u, m0, grouped_b_base(m0), rows_ok);
}
