// Attention prefill, flash-attention style: MHA, GQA and MQA in one kernel; causal or not.
//
// A workgroup owns BR query rows of one KV head of one sequence (row = s * group + g: query positions x the
// group query heads that read this KV head, so GQA/MQA heads share every K/V tile). Q stays in workgroup
// memory; the workgroup walks the KV tokens its rows may see in tiles of BK tokens:
//   scores S = (q * scale * log2 e) . K^T      (BR x BK; each invocation S_TR rows x S_TC tokens)
//   tile row max by workgroup atomicMax on order-preserving float keys, P = exp2(S - m) (online softmax)
//   O = O * exp2(m_old - m_new) + P V          (BR x D_V in registers; each invocation rows x vec4 columns)
// The S x S score matrix never exists in memory: only one BR x BK tile of it, in workgroup memory.
//
// Layouts: q, k, v as attention_common.wgsl (with Params and bindings 0-4; v rows of DV4 vec4s here), and
//   out  [batch][q_len][n_q][D_V]
// With causal, the q_len queries are the last q_len positions of the sequence (query s sees tokens
// t <= kv_len - q_len + s); a query that sees no token outputs zeros.

override WG: u32 = 32;      // invocations per workgroup
override BR: u32 = 16;      // query rows per workgroup
override BK: u32 = 32;      // tokens per KV tile
// Score layout: SC token lanes x (WG / SC) row groups; each invocation S_TR rows x BK / SC tokens.
override SC: u32 = 32;
// Output layout: OC vec4-column lanes x ORG row groups x (WG / (OC * ORG)) token groups.
override OC: u32 = 32;
override ORG: u32 = 1;

// Row strides of the K and V tiles in vec4s: odd, so that invocations reading different tokens hit different banks.
override KSQ: u32 = DQ4 | 1u;
override KSV: u32 = DV4 | 1u;
override KV_SIZE: u32 = BK * max(KSQ, KSV);
override S_RG: u32 = WG / SC;
override S_TR: u32 = (BR + S_RG - 1u) / S_RG;
override S_TC: u32 = BK / SC;
override O_TR: u32 = (BR + ORG - 1u) / ORG;
override O_TC: u32 = (DV4 + OC - 1u) / OC;
override TG: u32 = WG / (OC * ORG);

const MAX_ROWS: u32 = 16u;

// #include "attention_common.wgsl"
// #include "attention_tiles.wgsl"

@group(0) @binding(5) var<storage, read_write> out: array<T>;

var<workgroup> q_s: array<vec4<f32>, BR * DQ4>;
var<workgroup> kv_s: array<vec4<f32>, KV_SIZE>;
var<workgroup> p_s: array<f32, BR * BK>;
var<workgroup> m_s: array<f32, BR>;
var<workgroup> lim_s: array<u32, BR>;
var<workgroup> mx_s: array<atomic<u32>, BR>;
var<workgroup> l_s: array<f32, BR * TG>;

// The token groups merge through the K/V tile (free by then).
fn merge_store(i: u32, x: vec4<f32>) { kv_s[i] = x; }
fn merge_load(i: u32) -> vec4<f32> { return kv_s[i]; }

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let row0 = causal_block(wid.x) * BR;
  let kvh = wid.y;
  let b = wid.z;
  let kv_len = seqs[2u * b];
  // Rows are ordered by query position, so the block's last valid row sees the most tokens.
  let t_stop = block_row_limit(min(row0 + BR, params.rows) - 1u, kv_len);
  let head = kv_head(b, kvh, kv_len);

  for (var i = lid; i < BR * DQ4; i += WG) {
    let row = row0 + i / DQ4;
    var x = vec4<f32>(0.0);
    if (row < params.rows) {
      x = vec4<f32>(q[out_row_of(b, kvh, row) * DQ4 + i % DQ4]) * params.scale_log2;
    }
    q_s[i] = x;
  }
  for (var r = lid; r < BR; r += WG) {
    m_s[r] = NEG;
    lim_s[r] = block_row_limit(row0 + r, kv_len);
    atomicStore(&mx_s[r], key_of(NEG));
  }

  // Score layout of this invocation: rows s_group + i * S_RG, tokens s_lane + j * SC.
  // (Spelled with select so that a single group is a constant: loads indexed by it stay uniform.)
  let s_lane = lid % SC;
  let s_group = select(lid / SC, 0u, S_RG == 1u);
  // Output layout: rows o_group + i * ORG, vec4 columns o_lane + j * OC, tokens o_tg + n * TG.
  let o_lane = lid % OC;
  let o_group = select((lid / OC) % ORG, 0u, ORG == 1u);
  let o_tg = select(lid / (OC * ORG), 0u, TG == 1u);
  var acc: array<vec4<f32>, MAX_ACC>;
  var l: array<f32, MAX_ROWS>;
  for (var i = 0u; i < MAX_ACC; i++) { acc[i] = vec4<f32>(0.0); }
  for (var i = 0u; i < MAX_ROWS; i++) { l[i] = 0.0; }

  for (var t0 = 0u; t0 < t_stop; t0 += BK) {
    let n_tok = min(BK, t_stop - t0);
    workgroupBarrier();
    // Fold the previous tile's maximum into the running one and reset the tile maximum.
    if (t0 != 0u) {
      for (var r = lid; r < BR; r += WG) {
        m_s[r] = max(m_s[r], value_of(atomicLoad(&mx_s[r])));
        atomicStore(&mx_s[r], key_of(NEG));
      }
    }
    for (var i = lid; i < BK * DQ4; i += WG) {
      let tok = i / DQ4;
      var x = vec4<f32>(0.0);
      if (tok < n_tok) {
        let r = kv_row(head, t0 + tok);
        x = vec4<f32>(k_at(r.pool, r.row * DQ4 + i % DQ4));
      }
      kv_s[tok * KSQ + i % DQ4] = x;
    }
    workgroupBarrier();

    // S = Q K^T, 4 partial sums per score.
    var sacc: array<vec4<f32>, MAX_ACC>;
    for (var i = 0u; i < S_TR * S_TC; i++) { sacc[i] = vec4<f32>(0.0); }
    for (var d4 = 0u; d4 < DQ4; d4++) {
      var kk: array<vec4<f32>, MAX_ACC>;
      for (var j = 0u; j < S_TC; j++) { kk[j] = kv_s[(s_lane + j * SC) * KSQ + d4]; }
      for (var i = 0u; i < S_TR; i++) {
        let qv = q_s[min(s_group + i * S_RG, BR - 1u) * DQ4 + d4];
        for (var j = 0u; j < S_TC; j++) { sacc[i * S_TC + j] = fma(qv, kk[j], sacc[i * S_TC + j]); }
      }
    }
    // Scores in log2 units to p_s (NEG where masked); the tile's row maxima by atomicMax.
    for (var i = 0u; i < S_TR; i++) {
      let r = s_group + i * S_RG;
      if (r < BR) {
        var row_max = NEG;
        for (var j = 0u; j < S_TC; j++) {
          let tok = s_lane + j * SC;
          let a = sacc[i * S_TC + j];
          let s = select(NEG, (a.x + a.y) + (a.z + a.w), t0 + tok < lim_s[r]);
          p_s[r * BK + tok] = s;
          row_max = max(row_max, s);
        }
        atomicMax(&mx_s[r], key_of(row_max));
      }
    }
    workgroupBarrier();

    // P = exp2(S - m_new), and the V tile over the K tile.
    for (var i = 0u; i < S_TR; i++) {
      let r = s_group + i * S_RG;
      if (r < BR) {
        let m_new = max(m_s[r], value_of(atomicLoad(&mx_s[r])));
        for (var j = 0u; j < S_TC; j++) {
          let idx = r * BK + s_lane + j * SC;
          let s = p_s[idx];
          p_s[idx] = select(exp2(s - m_new), 0.0, s <= 0.5 * NEG);
        }
      }
    }
    for (var i = lid; i < BK * DV4; i += WG) {
      let tok = i / DV4;
      var x = vec4<f32>(0.0);
      if (tok < n_tok) {
        let r = kv_row(head, t0 + tok);
        x = vec4<f32>(v_at(r.pool, r.row * DV4 + i % DV4));
      }
      kv_s[tok * KSV + i % DV4] = x;
    }
    workgroupBarrier();

    // O = O * exp2(m_old - m_new) + P V over this invocation's token group.
    for (var i = 0u; i < O_TR; i++) {
      let r = min(o_group + i * ORG, BR - 1u);
      let m_old = m_s[r];
      let alpha = exp2(m_old - max(m_old, value_of(atomicLoad(&mx_s[r]))));
      l[i] *= alpha;
      for (var j = 0u; j < O_TC; j++) { acc[i * O_TC + j] *= alpha; }
    }
    for (var tok = o_tg; tok < n_tok; tok += TG) {
      var vv: array<vec4<f32>, MAX_ACC>;
      for (var j = 0u; j < O_TC; j++) { vv[j] = kv_s[tok * KSV + min(o_lane + j * OC, DV4 - 1u)]; }
      for (var i = 0u; i < O_TR; i++) {
        let p = p_s[min(o_group + i * ORG, BR - 1u) * BK + tok];
        l[i] += p;
        for (var j = 0u; j < O_TC; j++) { acc[i * O_TC + j] = fma(vec4<f32>(p), vv[j], acc[i * O_TC + j]); }
      }
    }
  }
  workgroupBarrier();

  merge_token_groups(o_lane, o_group, o_tg, &acc, &l);
  // Normalise and store; rows that saw no token store zeros.
  if (o_tg == 0u) {
    for (var i = 0u; i < O_TR; i++) {
      let r = o_group + i * ORG;
      let row = row0 + r;
      if (r < BR && row < params.rows) {
        let base = out_row_of(b, kvh, row) * D_V;
        let inv = select(1.0 / l[i], 0.0, l[i] == 0.0);
        for (var j = 0u; j < O_TC; j++) {
          let c = (o_lane + j * OC) * 4u;
          let a = acc[i * O_TC + j] * inv;
          for (var e = 0u; e < 4u; e++) {
            if (c + e < D_V) { out[base + c + e] = T(a[e]); }
          }
        }
      }
    }
  }
}
