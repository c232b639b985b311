// Row copy + RoPE for MLA: per row (z, m), dst[0 .. COPY) = src[0 .. COPY) and the next ROT elements rotated
// pairwise at the row's position: (x[2i], x[2i+1]) -> (x0 cos - x1 sin, x0 sin + x1 cos), cos/sin from a
// host table [q_len][ROT / 2] (computed in float64: f32 sin/cos of large angles would be far less exact).
// It assembles queries (q_nope copied, q_rope rotated, into the row layout the attention reads), rotates
// the new tokens' rope keys into the cache, and (ROT = 0) broadcasts the shared rope key into per-head K.
//
// Rows are addressed as in mla_gemm.wgsl, in elements: (z, m) -> off + z * zs + (m / seg) * outer + (m % seg) * row.
// The row's position index into the table is m % pos_seg. One invocation per row.
override WG: u32 = 64;

// #include "mla_addr.wgsl"

struct Params {
  m: u32,
  z: u32,
  copy: u32,
  rot: u32,
  pos_seg: u32,
  _p0: u32, _p1: u32, _p2: u32, // the addresses at 32 bytes (a uniform struct member is 16-byte aligned)
  src: Addr,
  dst: Addr,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<T>;
@group(0) @binding(2) var<storage, read> cos_sin: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> dst: array<T>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= params.m * params.z) {
    return;
  }
  let m = i % params.m;
  let z = i / params.m;
  let s = row_at(params.src, z, m);
  let d = row_at(params.dst, z, m);
  for (var e = 0u; e < params.copy; e++) { dst[d + e] = src[s + e]; }
  let pairs = params.rot / 2u;
  let table = (m % params.pos_seg) * pairs;
  for (var p = 0u; p < pairs; p++) {
    let cs = cos_sin[table + p];
    let x0 = f32(src[s + params.copy + 2u * p]);
    let x1 = f32(src[s + params.copy + 2u * p + 1u]);
    dst[d + params.copy + 2u * p] = T(x0 * cs.x - x1 * cs.y);
    dst[d + params.copy + 2u * p + 1u] = T(x0 * cs.y + x1 * cs.x);
  }
}
