// The uniform of the MoE route kernels (moe_logits, moe_select).
struct Params {
  tokens: u32,
  hidden: u32,
  experts: u32,
  top_k: u32,
  n_group: u32,
  topk_group: u32,
  route_scale: f32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
