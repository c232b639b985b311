// The GEMM family's kernels (gemm_tiled, gemm_subgroup, gemv): the uniform block, the A and C bindings (each
// kernel binds its B operand at 2: as T vec4s, or as packed 16-byte units) and the row addressing.
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
@group(0) @binding(3) var<storage, read_write> c_mat: array<T>;

fn row_at(addr: Addr, z: u32, r: u32) -> u32 {
  return addr.off + z * addr.zs + (r / addr.seg) * addr.outer + (r % addr.seg) * addr.row;
}
