// MoE route, part 1 (src/kernels/moe.ts): one invocation per (token, expert): the router logit (f32
// accumulation) and the selection key, stored once so that moe_select.wgsl compares bit-identical values.
override WG: u32 = 64;
override SIGMOID: bool = false;

// #include "moe_route_params.wgsl"

@group(0) @binding(1) var<storage, read> x: array<vec4<T>>;
@group(0) @binding(2) var<storage, read> gate: array<T>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> logits: array<f32>;
@group(0) @binding(5) var<storage, read_write> keys: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let index = gid.x + gid.y * groups.x * WG;
  if (index >= p.tokens * p.experts) {
    return;
  }
  let experts = p.experts;
  let token = index / experts;
  let expert = index % experts;
  let hidden4 = p.hidden / 4u;
  var acc = 0.0;
  for (var h4 = 0u; h4 < hidden4; h4++) {
    let xv = vec4<f32>(x[token * hidden4 + h4]);
    let base = h4 * 4u * experts + expert;
    acc += xv.x * f32(gate[base]) + xv.y * f32(gate[base + experts]) + xv.z * f32(gate[base + 2u * experts]) + xv.w * f32(gate[base + 3u * experts]);
  }
  logits[index] = acc;
  if (SIGMOID) {
    keys[index] = 1.0 / (1.0 + exp(-acc)) + bias[expert];
  } else {
    keys[index] = acc; // softmax is monotone: selecting on logits selects what softmax would
  }
}

