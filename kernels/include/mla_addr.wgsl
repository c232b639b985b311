// Row addressing of the MLA kernels (mla_gemm.wgsl, mla_rope.wgsl, mla_rmsnorm.wgsl): row (z, m) starts at
// off + z * zs + (m / seg) * outer + (m % seg) * row, so `seg` consecutive rows (e.g. the tokens of one
// sequence) are `row` apart and segments `outer` apart. A uniform struct member: 32 bytes, as WGSL's uniform
// layout wants a struct member 16-byte aligned and sized.
struct Addr {
  off: u32,
  zs: u32,
  outer: u32,
  row: u32,
  seg: u32,
  _p0: u32, _p1: u32, _p2: u32,
}

fn row_at(addr: Addr, z: u32, m: u32) -> u32 {
  return addr.off + z * addr.zs + (m / addr.seg) * addr.outer + (m % addr.seg) * addr.row;
}
