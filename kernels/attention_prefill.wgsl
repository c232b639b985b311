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
// Layouts (elements; T is the storage type, f32 or f16; accumulation is always f32):
// Rows of q, k and v are DQ4 / DV4 vec4s (head dims rounded up to a multiple of 4, zero padded):
//   q    [batch][q_len][n_q][DQ4 * 4]
//   k    [batch][n_kv][token][DQ4 * 4]  sequence b: seqs[2b] tokens from token offset seqs[2b+1] (ragged, packed)
//   v    [batch][n_kv][token][DV4 * 4]
//   out  [batch][q_len][n_q][D_V]
// With causal, the q_len queries are the last q_len positions of the sequence (query s sees tokens
// t <= kv_len - q_len + s); a query that sees no token outputs zeros.

override WG: u32 = 32;      // invocations per workgroup
override BR: u32 = 16;      // query rows per workgroup
override BK: u32 = 32;      // tokens per KV tile
override D_QK: u32 = 128;
override D_V: u32 = 128;
// Score layout: SC token lanes x (WG / SC) row groups; each invocation S_TR rows x BK / SC tokens.
override SC: u32 = 32;
// Output layout: OC vec4-column lanes x ORG row groups x (WG / (OC * ORG)) token groups.
override OC: u32 = 32;
override ORG: u32 = 1;

override DQ4: u32 = (D_QK + 3u) / 4u;
override DV4: u32 = (D_V + 3u) / 4u;
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

const NEG: f32 = -1.0e30;
const MAX_ACC: u32 = 16u;
const MAX_ROWS: u32 = 16u;

struct Params {
  n_q: u32,
  n_kv: u32,
  q_len: u32,
  group: u32,       // n_q / n_kv
  rows: u32,        // q_len * group: query rows per KV head
  row_blocks: u32,  // ceil(rows / BR)
  causal: u32,
  scale_log2: f32,  // softmax scale * log2(e)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> seqs: array<u32>;
@group(0) @binding(2) var<storage, read> q: array<vec4<T>>;
@group(0) @binding(3) var<storage, read> k: array<vec4<T>>;
@group(0) @binding(4) var<storage, read> v: array<vec4<T>>;
@group(0) @binding(5) var<storage, read_write> out: array<T>;

var<workgroup> q_s: array<vec4<f32>, BR * DQ4>;
var<workgroup> kv_s: array<vec4<f32>, KV_SIZE>;
var<workgroup> p_s: array<f32, BR * BK>;
var<workgroup> m_s: array<f32, BR>;
var<workgroup> lim_s: array<u32, BR>;
var<workgroup> mx_s: array<atomic<u32>, BR>;
var<workgroup> l_s: array<f32, BR * TG>;

// Order-preserving map of floats onto u32, so that atomicMax finds the largest score.
fn key_of(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  return select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
}

fn value_of(key: u32) -> f32 {
  return bitcast<f32>(select(~key, key & 0x7fffffffu, (key & 0x80000000u) != 0u));
}

// Tokens a row of this KV head may see: all of them, or with causal those up to its position.
fn row_limit(row: u32, kv_len: u32) -> u32 {
  if (row >= params.rows) { return 0u; }
  if (params.causal == 0u) { return kv_len; }
  let reach = kv_len + row / params.group + 1u;
  return select(0u, min(kv_len, reach - params.q_len), reach > params.q_len);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  // Causal row blocks further down the sequence see more tokens: dispatch those first.
  let row0 = (params.row_blocks - 1u - wid.x) * BR;
  let kvh = wid.y;
  let b = wid.z;
  let kv_len = seqs[2u * b];
  let kv_off = seqs[2u * b + 1u];
  // Rows are ordered by query position, so the block's last valid row sees the most tokens.
  let t_stop = row_limit(min(row0 + BR, params.rows) - 1u, kv_len);
  let k_head = (kv_off * params.n_kv + kvh * kv_len) * DQ4;
  let v_head = (kv_off * params.n_kv + kvh * kv_len) * DV4;

  for (var i = lid; i < BR * DQ4; i += WG) {
    let row = row0 + i / DQ4;
    var x = vec4<f32>(0.0);
    if (row < params.rows) {
      let head = kvh * params.group + row % params.group;
      x = vec4<f32>(q[((b * params.q_len + row / params.group) * params.n_q + head) * DQ4 + i % DQ4]) * params.scale_log2;
    }
    q_s[i] = x;
  }
  for (var r = lid; r < BR; r += WG) {
    m_s[r] = NEG;
    lim_s[r] = row_limit(row0 + r, kv_len);
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
      if (tok < n_tok) { x = vec4<f32>(k[k_head + (t0 + tok) * DQ4 + i % DQ4]); }
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
      if (tok < n_tok) { x = vec4<f32>(v[v_head + (t0 + tok) * DV4 + i % DV4]); }
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

  // Merge the token groups' partial sums through the (now free) K/V tile.
  if (TG > 1u) {
    if (o_tg > 0u) {
      for (var i = 0u; i < O_TR; i++) {
        let r = o_group + i * ORG;
        for (var j = 0u; j < O_TC; j++) {
          let c4 = o_lane + j * OC;
          if (r < BR && c4 < DV4) { kv_s[((o_tg - 1u) * BR + r) * DV4 + c4] = acc[i * O_TC + j]; }
        }
        if (r < BR && o_lane == 0u) { l_s[o_tg * BR + r] = l[i]; }
      }
    }
    workgroupBarrier();
    if (o_tg == 0u) {
      for (var g = 1u; g < TG; g++) {
        for (var i = 0u; i < O_TR; i++) {
          let r = min(o_group + i * ORG, BR - 1u);
          l[i] += l_s[g * BR + r];
          for (var j = 0u; j < O_TC; j++) {
            acc[i * O_TC + j] += kv_s[((g - 1u) * BR + r) * DV4 + min(o_lane + j * OC, DV4 - 1u)];
          }
        }
      }
    }
  }
  // Normalise and store; rows that saw no token store zeros.
  if (o_tg == 0u) {
    for (var i = 0u; i < O_TR; i++) {
      let r = o_group + i * ORG;
      let row = row0 + r;
      if (r < BR && row < params.rows) {
        let head = kvh * params.group + row % params.group;
        let base = ((b * params.q_len + row / params.group) * params.n_q + head) * D_V;
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
