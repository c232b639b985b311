// MoE route, part 2 (src/kernels/moe.ts): one invocation per token: group-limited top-k over the keys
// from moe_logits.wgsl, then the gate weights.
// Tie-breaking (same as src/reference/moe.ts): higher key first, lower index among equal keys; groups likewise.
// The keys are computed once and stored, so every comparison sees bit-identical values.
override WG: u32 = 64;
override SIGMOID: bool = false;
override RENORMALIZE: bool = false;

// #include "moe_route_params.wgsl"

@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> keys: array<f32>;
@group(0) @binding(3) var<storage, read_write> ids: array<u32>;
@group(0) @binding(4) var<storage, read_write> weights: array<f32>;

// (value, index) strictly after (prev_value, prev_index) in the order "value descending, index ascending".
fn after(value: f32, index: u32, prev_value: f32, prev_index: i32) -> bool {
  return value < prev_value || (value == prev_value && i32(index) > prev_index);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let token = gid.x + gid.y * groups.x * WG;
  if (token >= p.tokens) {
    return;
  }
  let experts = p.experts;
  let base = token * experts;
  let size = experts / p.n_group;

  // Groups a token may use (bit g), by group score: max key (softmax) or the sum of the top two (sigmoid).
  var allowed = 1u;
  if (p.n_group > 1u) {
    var scores: array<f32, 32>;
    for (var g = 0u; g < p.n_group; g++) {
      var first = -3.4e38;
      var second = -3.4e38;
      for (var e = g * size; e < (g + 1u) * size; e++) {
        let k = keys[base + e];
        if (k > first) {
          second = first;
          first = k;
        } else if (k > second) {
          second = k;
        }
      }
      scores[g] = select(first, first + select(second, 0.0, size == 1u), SIGMOID);
    }
    allowed = 0u;
    var prev_value = 3.4e38;
    var prev_index = -1;
    for (var j = 0u; j < p.topk_group; j++) {
      var best = -1;
      var best_value = -3.4e38;
      for (var g = 0u; g < p.n_group; g++) {
        let v = scores[g];
        if (after(v, g, prev_value, prev_index) && (best < 0 || v > best_value)) {
          best = i32(g);
          best_value = v;
        }
      }
      allowed |= 1u << u32(best);
      prev_value = best_value;
      prev_index = best;
    }
  }

  var prev_value = 3.4e38;
  var prev_index = -1;
  var chosen_sum = 0.0;
  for (var j = 0u; j < p.top_k; j++) {
    var best = -1;
    var best_value = -3.4e38;
    for (var e = 0u; e < experts; e++) {
      if ((allowed & (1u << (e / size))) == 0u) {
        continue;
      }
      let v = keys[base + e];
      if (after(v, e, prev_value, prev_index) && (best < 0 || v > best_value)) {
        best = i32(e);
        best_value = v;
      }
    }
    ids[token * p.top_k + j] = u32(best);
    prev_value = best_value;
    prev_index = best;
  }

  // Gate weights from the unbiased scores: softmax over all experts, or sigmoid (optionally renormalised).
  var max_logit = -3.4e38;
  var denominator = 1.0;
  if (!SIGMOID) {
    for (var e = 0u; e < experts; e++) {
      max_logit = max(max_logit, logits[base + e]);
    }
    denominator = 0.0;
    for (var e = 0u; e < experts; e++) {
      denominator += exp(logits[base + e] - max_logit);
    }
  }
  for (var j = 0u; j < p.top_k; j++) {
    let l = logits[base + ids[token * p.top_k + j]];
    let s = select(exp(l - max_logit) / denominator, 1.0 / (1.0 + exp(-l)), SIGMOID);
    weights[token * p.top_k + j] = s;
    chosen_sum += s;
  }
  let scale = select(p.route_scale, p.route_scale / chosen_sum, RENORMALIZE);
  for (var j = 0u; j < p.top_k; j++) {
    weights[token * p.top_k + j] *= scale;
  }
}
