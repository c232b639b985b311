// MoE combine (src/kernels/moe.ts): one invocation per (token, vec4 column): the shared experts' output plus the
// token's top_k expert rows (found through positions) weighted by their gates, back in token order.
override WG: u32 = 64;
override HAS_SHARED: bool = true;

struct Params {
  tokens: u32,
  hidden4: u32,
  top_k: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read> positions: array<u32>;
@group(0) @binding(3) var<storage, read> yp: array<vec4<T>>;
@group(0) @binding(4) var<storage, read> ys: array<vec4<T>>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4<T>>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let index = gid.x + gid.y * groups.x * WG;
  if (index >= p.tokens * p.hidden4) {
    return;
  }
  let token = index / p.hidden4;
  let column = index % p.hidden4;
  var acc = vec4<f32>(0.0);
  if (HAS_SHARED) {
    acc = vec4<f32>(ys[index]);
  }
  for (var j = 0u; j < p.top_k; j++) {
    let pair = token * p.top_k + j;
    acc += weights[pair] * vec4<f32>(yp[positions[pair] * p.hidden4 + column]);
  }
  out[index] = vec4<T>(acc);
}
