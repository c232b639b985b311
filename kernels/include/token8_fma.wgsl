// The arithmetic of the subgroup attention kernels (attention_rows_subgroup, attention_flash), whose 8-lane groups
// hold 8 tokens' vec4s at one head-dim position after subgroup shuffles: token-transposed FMAs, one accumulator
// lane per token.

// Scores of 4 tokens (t0-t3: their vec4 at one head-dim position) against q's vec4 there, added to acc.
fn scores4(q: vec4<f32>, t0: vec4<f32>, t1: vec4<f32>, t2: vec4<f32>, t3: vec4<f32>, acc: vec4<f32>) -> vec4<f32> {
  var x = fma(vec4<f32>(q.x), vec4<f32>(t0.x, t1.x, t2.x, t3.x), acc);
  x = fma(vec4<f32>(q.y), vec4<f32>(t0.y, t1.y, t2.y, t3.y), x);
  x = fma(vec4<f32>(q.z), vec4<f32>(t0.z, t1.z, t2.z, t3.z), x);
  return fma(vec4<f32>(q.w), vec4<f32>(t0.w, t1.w, t2.w, t3.w), x);
}

// 8 tokens' V vec4s weighted by their probabilities (pa: tokens 0-3, pb: tokens 4-7), added to acc.
fn weighted8(pa: vec4<f32>, pb: vec4<f32>, v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32>, v4: vec4<f32>, v5: vec4<f32>, v6: vec4<f32>, v7: vec4<f32>, acc: vec4<f32>) -> vec4<f32> {
  var x = fma(vec4<f32>(pa.x), v0, acc);
  x = fma(vec4<f32>(pa.y), v1, x);
  x = fma(vec4<f32>(pa.z), v2, x);
  x = fma(vec4<f32>(pa.w), v3, x);
  x = fma(vec4<f32>(pb.x), v4, x);
  x = fma(vec4<f32>(pb.y), v5, x);
  x = fma(vec4<f32>(pb.z), v6, x);
  return fma(vec4<f32>(pb.w), v7, x);
}
