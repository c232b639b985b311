// RMSNorm of MLA's compressed vectors (c_Q, c_KV): per row, y = x / sqrt(mean(x^2) + eps) * gain, f32 math.
// Rows are addressed as in mla_rope.wgsl (elements; z unused). One invocation per row.
override WG: u32 = 64;

// #include "mla_addr.wgsl"

struct Params {
  m: u32,
  d: u32,
  eps: f32,
  _p0: u32, _p1: u32, _p2: u32, _p3: u32, _p4: u32, // the addresses at 32 bytes, as in the other MLA kernels
  src: Addr,
  dst: Addr,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<T>;
@group(0) @binding(2) var<storage, read> gain: array<T>;
@group(0) @binding(3) var<storage, read_write> dst: array<T>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let m = gid.x + gid.y * groups.x * WG;
  if (m >= params.m) {
    return;
  }
  let s = row_at(params.src, 0u, m);
  let d = row_at(params.dst, 0u, m);
  var sum = 0.0;
  for (var e = 0u; e < params.d; e++) {
    let x = f32(src[s + e]);
    sum = fma(x, x, sum);
  }
  let inv = inverseSqrt(sum / f32(params.d) + params.eps);
  for (var e = 0u; e < params.d; e++) { dst[d + e] = T(f32(src[s + e]) * inv * f32(gain[e])); }
}
