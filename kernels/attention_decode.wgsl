// Attention decode, split-KV (flash-decoding), stage 1 of 2: attend. MHA, GQA and MQA in one kernel.
//
// A workgroup owns one KV head of one sequence, one chunk of its cached tokens (a "split") and BR query
// rows: the q_len x group query heads that read this KV head (row = s * group + g), so the K/V of a KV head
// is streamed from memory once and reused by all its query heads in registers. Decode is bound by reading
// the cache, so K and V go straight from memory to registers (no workgroup-memory staging); only the
// probabilities of one tile of BK tokens pass through workgroup memory:
//   scores S = (q * scale * log2 e) . K^T   invocations over tokens: each walks its tokens' K rows (vec4s)
//                                           and dots them with the rows' q (the same address in every lane)
//   tile row max by workgroup atomicMax on order-preserving float keys, P = exp2(S - m) (online softmax)
//   O = O * exp2(m_old - m_new) + P V       invocations over vec4 columns x row groups x token groups,
//                                           O in registers; token groups merge at the end
// Output: this split's unnormalised O and the row's (m, l); attention_reduce.wgsl merges the splits.
//
// Layouts: q, k, v as attention_common.wgsl (with Params and bindings 0-4); the outputs, f32:
//   part_o   [batch][q_len][n_q][n_splits][D_V]   f32, unnormalised
//   part_ml  [batch][q_len][n_q][n_splits]        vec2<f32>: (running max in log2 units, sum of exp2)
// With causal, the q_len queries are the last q_len positions of the sequence.

override WG: u32 = 32;      // invocations per workgroup
override BR: u32 = 1;       // query rows per workgroup
override BK: u32 = 64;      // tokens per tile
// Score layout: SC token lanes x (WG / SC) row groups; each invocation S_TR rows (in passes of RCH) x BK / SC tokens.
override SC: u32 = 32;
override RCH: u32 = 1;
// Output layout: OC vec4-column lanes x ORG row groups x (WG / (OC * ORG)) token groups.
override OC: u32 = 32;
override ORG: u32 = 1;

override S_RG: u32 = WG / SC;
override S_TR: u32 = (BR + S_RG - 1u) / S_RG;
override S_TC: u32 = BK / SC;
override S_PASSES: u32 = (S_TR + RCH - 1u) / RCH;
override O_TR: u32 = (BR + ORG - 1u) / ORG;
override O_TC: u32 = (DV4 + OC - 1u) / OC;
override TG: u32 = WG / (OC * ORG);
// Token-group merge buffer (vec4s): one vec4 when there is a single token group.
override MERGE: u32 = max(1u, (TG - 1u) * BR * DV4);

// #include "attention_common.wgsl"
// #include "attention_tiles.wgsl"

@group(0) @binding(5) var<storage, read_write> part_o: array<f32>;
@group(0) @binding(6) var<storage, read_write> part_ml: array<vec2<f32>>;

var<workgroup> p_s: array<f32, BR * BK>;
// Running row max before / after the current tile (by tile parity).
var<workgroup> m_s: array<f32, 2 * BR>;
var<workgroup> lim_s: array<u32, BR>;
var<workgroup> qrow_s: array<u32, BR>;
var<workgroup> mx_s: array<atomic<u32>, BR>;
var<workgroup> l_s: array<f32, BR * TG>;
var<workgroup> merge_s: array<vec4<f32>, MERGE>;

fn merge_store(i: u32, x: vec4<f32>) { merge_s[i] = x; }
fn merge_load(i: u32) -> vec4<f32> { return merge_s[i]; }

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let split = wid.x;
  let kvh = wid.y / params.row_blocks;
  let row0 = (wid.y % params.row_blocks) * BR;
  let b = wid.z;
  let kv_len = seqs[2u * b];
  let t_begin = split * params.chunk;
  // Rows are ordered by query position, so the block's last valid row sees the most tokens.
  let t_stop = min(min(t_begin + params.chunk, kv_len), block_row_limit(min(row0 + BR, params.rows) - 1u, kv_len));
  let head = kv_head(b, kvh, kv_len);

  for (var r = lid; r < BR; r += WG) {
    let row = min(row0 + r, params.rows - 1u);
    m_s[r] = NEG;
    lim_s[r] = block_row_limit(row0 + r, kv_len);
    qrow_s[r] = out_row_of(b, kvh, row) * DQ4;
    atomicStore(&mx_s[r], key_of(NEG));
  }

  // Score layout: rows s_group + i * S_RG, tokens s_lane + j * SC. Output layout: rows o_group + i * ORG,
  // vec4 columns o_lane + j * OC, tokens o_tg + n * TG. (A single group is spelled as the constant 0, so
  // that loads indexed by it are the same address in every invocation.)
  let s_lane = lid % SC;
  let s_group = select(lid / SC, 0u, S_RG == 1u);
  let o_lane = lid % OC;
  let o_group = select((lid / OC) % ORG, 0u, ORG == 1u);
  let o_tg = select(lid / (OC * ORG), 0u, TG == 1u);
  var acc: array<vec4<f32>, MAX_ACC>;
  var l: array<f32, MAX_ACC>;
  for (var i = 0u; i < MAX_ACC; i++) {
    acc[i] = vec4<f32>(0.0);
    l[i] = 0.0;
  }
  workgroupBarrier();
  let scale = params.scale_log2;

  var cur = 0u;
  for (var t0 = t_begin; t0 < t_stop; t0 += BK) {
    let n_tok = min(BK, t_stop - t0);
    let nxt = 1u - cur;
    // S = Q K^T: each invocation walks its tokens' K rows; q is read by every invocation alike.
    for (var ps = 0u; ps < S_PASSES; ps++) {
      var sacc: array<vec4<f32>, MAX_ACC>;
      for (var i = 0u; i < RCH * S_TC; i++) { sacc[i] = vec4<f32>(0.0); }
      var krow: array<u32, MAX_ACC>;
      var kpool: array<u32, MAX_ACC>;
      for (var j = 0u; j < S_TC; j++) {
        let kr = kv_row(head, t0 + min(s_lane + j * SC, n_tok - 1u));
        kpool[j] = kr.pool;
        krow[j] = kr.row * DQ4;
      }
      var qrow: array<u32, MAX_ACC>;
      for (var i = 0u; i < RCH; i++) { qrow[i] = qrow_s[min(s_group + (ps * RCH + i) * S_RG, BR - 1u)]; }
      for (var d4 = 0u; d4 < params.dq4; d4++) {
        var kk: array<vec4<f32>, MAX_ACC>;
        for (var j = 0u; j < S_TC; j++) { kk[j] = vec4<f32>(k_at(kpool[j], krow[j] + d4)); }
        for (var i = 0u; i < RCH; i++) {
          let qv = vec4<f32>(q[qrow[i] + d4]);
          for (var j = 0u; j < S_TC; j++) { sacc[i * S_TC + j] = fma(qv, kk[j], sacc[i * S_TC + j]); }
        }
      }
      // Scores in log2 units to p_s (NEG where masked); the tile's row maxima by atomicMax.
      for (var i = 0u; i < RCH; i++) {
        let r = s_group + (ps * RCH + i) * S_RG;
        if (r < BR) {
          var row_max = NEG;
          for (var j = 0u; j < S_TC; j++) {
            let tok = s_lane + j * SC;
            let a = sacc[i * S_TC + j];
            let s = select(NEG, ((a.x + a.y) + (a.z + a.w)) * scale, tok < n_tok && t0 + tok < lim_s[r]);
            p_s[r * BK + tok] = s;
            row_max = max(row_max, s);
          }
          atomicMax(&mx_s[r], key_of(row_max));
        }
      }
    }
    workgroupBarrier();

    // P = exp2(S - m_new), by the invocations that wrote the scores; the first of them records m_new.
    for (var i = 0u; i < S_TR; i++) {
      let r = s_group + i * S_RG;
      if (r < BR) {
        let m_new = max(m_s[cur * BR + r], value_of(atomicLoad(&mx_s[r])));
        if (s_lane == 0u) { m_s[nxt * BR + r] = m_new; }
        for (var j = 0u; j < S_TC; j++) {
          let idx = r * BK + s_lane + j * SC;
          let s = p_s[idx];
          p_s[idx] = select(exp2(s - m_new), 0.0, s <= 0.5 * NEG);
        }
      }
    }
    workgroupBarrier();

    // O = O * exp2(m_old - m_new) + P V over this invocation's token group; V read once per KV head.
    for (var r = lid; r < BR; r += WG) { atomicStore(&mx_s[r], key_of(NEG)); }
    for (var i = 0u; i < O_TR; i++) {
      let r = min(o_group + i * ORG, BR - 1u);
      let alpha = exp2(m_s[cur * BR + r] - m_s[nxt * BR + r]);
      l[i] *= alpha;
      for (var j = 0u; j < O_TC; j++) { acc[i * O_TC + j] *= alpha; }
    }
    for (var tok = o_tg; tok < n_tok; tok += TG) {
      var vv: array<vec4<f32>, MAX_ACC>;
      let vr = kv_row(head, t0 + tok);
      let vrow = vr.row * V_STRIDE4;
      for (var j = 0u; j < O_TC; j++) { vv[j] = vec4<f32>(v_at(vr.pool, vrow + min(o_lane + j * OC, DV4 - 1u))); }
      for (var i = 0u; i < O_TR; i++) {
        let p = p_s[min(o_group + i * ORG, BR - 1u) * BK + tok];
        l[i] += p;
        for (var j = 0u; j < O_TC; j++) { acc[i * O_TC + j] = fma(vec4<f32>(p), vv[j], acc[i * O_TC + j]); }
      }
    }
    workgroupBarrier();
    cur = nxt;
  }

  // Merge the token groups' partial sums, then write this split's partial.
  merge_token_groups(o_lane, o_group, o_tg, &acc, &l);
  if (o_tg == 0u) {
    for (var i = 0u; i < O_TR; i++) {
      let r = o_group + i * ORG;
      let row = row0 + r;
      if (r < BR && row < params.rows) {
        let slot = out_row_of(b, kvh, row) * params.n_splits + split;
        if (o_lane == 0u) { part_ml[slot] = vec2<f32>(m_s[cur * BR + r], l[i]); }
        for (var j = 0u; j < O_TC; j++) {
          let c = (o_lane + j * OC) * 4u;
          let a = acc[i * O_TC + j];
          for (var e = 0u; e < 4u; e++) {
            if (c + e < D_V) { part_o[slot * D_V + c + e] = a[e]; }
          }
        }
      }
    }
  }
}
