// The uniform of the MoE align and permute kernels (moe_count, moe_scan, moe_scatter, moe_gather).
struct Params {
  pairs: u32,    // tokens * top_k (also the padding sentinel)
  experts: u32,
  block: u32,    // rows per block of the padded layout
  chunk: u32,    // pairs per chunk (one invocation of count and scatter)
  chunks: u32,
  capacity: u32, // rows of sorted_ids: pairs + min(experts, pairs) * (block - 1), rounded up to a block
  top_k: u32,
  hidden4: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
