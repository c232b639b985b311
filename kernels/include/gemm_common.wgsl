// The GEMM family's kernels (gemm_tiled, gemm_subgroup, gemv): the uniform block, the A and C bindings (each
// kernel binds its B operand at 2: as T vec4s, or as packed 16-byte units), the row addressing, and the grouped
// rows' bindings (4-6), which only a kernel's `main_grouped` entry point uses (so a plain GEMM binds none of them).
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
  // SwiGLU (DUAL = 2): the up matrix starts `pair` elements after the gate matrix in B's buffer.
  pair: u32,
  // Grouped rows: block r / block multiplies B number group_of[r / block], group_stride elements apart; rows whose
  // row_ids entry is >= sentinel are padding.
  block: u32,
  group_stride: u32,
  sentinel: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a_mat: array<vec4<T>>;
@group(0) @binding(3) var<storage, read_write> c_mat: array<T>;
@group(0) @binding(4) var<storage, read> group_of: array<u32>;
@group(0) @binding(5) var<storage, read> row_count: array<u32>;
@group(0) @binding(6) var<storage, read> row_ids: array<u32>;

fn row_at(addr: Addr, z: u32, r: u32) -> u32 {
  return addr.off + z * addr.zs + (r / addr.seg) * addr.outer + (r % addr.seg) * addr.row;
}

// Grouped rows: the rows that run (row_count[0], written by an earlier stage, bounds m).
fn grouped_rows() -> u32 {
  return min(p.m, row_count[0]);
}

// Grouped rows: whether row r (below grouped_rows()) is a real row, not padding.
fn grouped_row_ok(r: u32) -> bool {
  return row_ids[r] < p.sentinel;
}

// Grouped rows: where the B matrix of the block holding row r starts, in elements.
fn grouped_b_base(r: u32) -> u32 {
  return p.b.off + group_of[r / p.block] * p.group_stride;
}

// The stored value of output element (v = A B, u = A B'): v itself, or silu(v) * u with DUAL = 2.
fn epilogue(v: f32, u: f32) -> f32 {
  if (DUAL == 2u) {
    return v / (1.0 + exp(-v)) * u;
  }
  return v;
}
