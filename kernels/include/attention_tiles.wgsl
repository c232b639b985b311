// The workgroup-tiled attend kernels' common part (attention_decode.wgsl, attention_prefill.wgsl): the register
// budget, order-preserving float keys for the tile row maxima, the row limit of a row block, and the merge of the
// token groups' partial outputs. The including kernel defines the lane layout (BR, OC, ORG, O_TR, O_TC, TG), l_s
// and merge_store / merge_load over the workgroup buffer the merge goes through.
const MAX_ACC: u32 = 16u;

// Order-preserving map of floats onto u32, so that atomicMax finds the largest score.
fn key_of(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  return select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
}

fn value_of(key: u32) -> f32 {
  return bitcast<f32>(select(~key, key & 0x7fffffffu, (key & 0x80000000u) != 0u));
}

// row_limit, and no tokens for the rows of a block past the last row.
fn block_row_limit(row: u32, kv_len: u32) -> u32 {
  if (row >= params.rows) { return 0u; }
  return row_limit(row, kv_len);
}

// Adds every token group's partial output rows (acc, l) into token group 0's, through workgroup memory.
fn merge_token_groups(o_lane: u32, o_group: u32, o_tg: u32, acc: ptr<function, array<vec4<f32>, MAX_ACC>>, l: ptr<function, array<f32, MAX_ACC>>) {
  if (TG > 1u) {
    if (o_tg > 0u) {
      for (var i = 0u; i < O_TR; i++) {
        let r = o_group + i * ORG;
        for (var j = 0u; j < O_TC; j++) {
          let c4 = o_lane + j * OC;
          if (r < BR && c4 < DV4) { merge_store(((o_tg - 1u) * BR + r) * DV4 + c4, (*acc)[i * O_TC + j]); }
        }
        if (r < BR && o_lane == 0u) { l_s[o_tg * BR + r] = (*l)[i]; }
      }
    }
    workgroupBarrier();
    if (o_tg == 0u) {
      for (var g = 1u; g < TG; g++) {
        for (var i = 0u; i < O_TR; i++) {
          let r = min(o_group + i * ORG, BR - 1u);
          (*l)[i] += l_s[g * BR + r];
          for (var j = 0u; j < O_TC; j++) {
            (*acc)[i * O_TC + j] += merge_load(((g - 1u) * BR + r) * DV4 + min(o_lane + j * OC, DV4 - 1u));
          }
        }
      }
    }
  }
}
