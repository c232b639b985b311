enable subgroups;
// Attention prefill, FlashAttention-2 style: the workgroup tiling's prefill kernel (MHA, GQA and MQA; causal or
// not; contiguous or paged KV caches).
//
// A workgroup owns WG x RPI query rows of one KV head of one sequence (row = s * group + g: query positions x the
// group query heads that read this KV head, so GQA/MQA heads share every K/V tile), RPI rows per invocation. An
// invocation keeps its q rows and output rows in private memory and runs its own online softmax: no score
// crosses lanes through memory, no atomics. The workgroup walks the tokens its last row may see in tiles of BK
// tokens (a multiple of 8); each tile's K and V rows are copied once, coalesced, into workgroup memory (two
// barriers per tile).
//
// Within a tile, the 8-lane groups of a subgroup work on blocks of 8 tokens x 8 head-dim vec4s: lane i reads vec4
// j + i of each of the 8 token rows (eight consecutive vec4s across the group: no bank conflicts, no padding) and
// takes the others' by subgroupShuffle, then feeds RPI x 8 multiply-adds with every vec4 it holds. On a GPU the
// shuffles replace broadcast reads of workgroup memory; on a CPU adapter (llvmpipe), where every
// workgroup-memory read is a per-lane gather whatever the address, they make each gather bring 8 useful vec4s.
// Each tile takes two passes: its scores (the tile's BK / 8 blocks of score accumulators) over the head-dim
// blocks of q, then the output over the head-dim blocks of V, each output block's 8 x RPI vec4s held in `ab`
// while the tile's V rows stream past: the private rows (q, output) are indexed by a loop counter once per tile
// and block, every other private index is a constant.
//
// Loop bounds are pipeline constants (DQ4, DV4, BK / 8), so a GPU compiler may unroll them and keep the rows in
// registers; llvmpipe keeps the head-dim loops as loops (their bodies are large), so the pipeline compiles in
// seconds at head dims up to 256 and more.
//
// Layouts: q, k, v as attention_common.wgsl (v rows V_STRIDE4 vec4s apart, the first DV4 of them read), and
//   out  [batch][q_len][n_q][D_V]
// With causal, the q_len queries are the last q_len positions of the sequence; a query that sees no token
// outputs zeros. The host gives the private arrays' lengths as consts (WGSL wants const lengths there): MAXQ and
// MAXV (>= RPI x DQ4, RPI x DV4 vec4s), MAXS (2 x RPI x BK / 8: the tile's scores) and MAXB (8 x RPI).
override WG: u32 = 64;
override RPI: u32 = 1;
override BK: u32 = 32;
// #include "attention_common.wgsl"
// #include "token8_fma.wgsl"
const MAX_RPI: u32 = 4u;
override NB: u32 = BK / 8u;

@group(0) @binding(5) var<storage, read_write> out: array<T>;

var<workgroup> k_s: array<vec4<f32>, BK * DQ4>;
var<workgroup> v_s: array<vec4<f32>, BK * DV4>;

var<private> qr: array<vec4<f32>, MAXQ>;
var<private> o: array<vec4<f32>, MAXV>;
// The tile's scores, then probabilities: [token block][row][tokens 0-3 | 4-7].
var<private> sc: array<vec4<f32>, MAXS>;
// One head-dim block of 8 vec4s per row: q (scores pass), the output (output pass).
var<private> qb: array<vec4<f32>, MAXB>;
var<private> ab: array<vec4<f32>, MAXB>;
// The current token block's accumulators (sa: tokens 0-3, sb: 4-7) and probabilities, per row.
var<private> sa: array<vec4<f32>, MAX_RPI>;
var<private> sb: array<vec4<f32>, MAX_RPI>;
var<private> limit: array<u32, MAX_RPI>;
var<private> m: array<f32, MAX_RPI>;
var<private> l: array<f32, MAX_RPI>;
var<private> alpha: array<f32, MAX_RPI>;

// row_limit, and no tokens for the rows past the last row.
fn live_limit(row: u32, kv_len: u32) -> u32 {
  return select(0u, row_limit(row, kv_len), row < params.rows);
}

// The tile's K and V rows from token t0 (n_tok of them; zeros past those) into workgroup memory.
fn load_tile(lid: u32, head: KvHead, t0: u32, n_tok: u32) {
  for (var i = lid; i < BK * DQ4; i += WG) {
    let tok = i / DQ4;
    var x = vec4<f32>(0.0);
    if (tok < n_tok) {
      let r = kv_row(head, t0 + tok);
      x = vec4<f32>(k_at(r.pool, r.row * DQ4 + i % DQ4));
    }
    k_s[i] = x;
  }
  for (var i = lid; i < BK * DV4; i += WG) {
    let tok = i / DV4;
    var x = vec4<f32>(0.0);
    if (tok < n_tok) {
      let r = kv_row(head, t0 + tok);
      x = vec4<f32>(v_at(r.pool, r.row * V_STRIDE4 + i % DV4));
    }
    v_s[i] = x;
  }
}

// Scores: q vec4 e of the head-dim block (qb) against the 8 tokens' vec4 e, into sa / sb (token-transposed FMAs).
fn qk(e: u32, k0: vec4<f32>, k1: vec4<f32>, k2: vec4<f32>, k3: vec4<f32>, k4: vec4<f32>, k5: vec4<f32>, k6: vec4<f32>, k7: vec4<f32>) {
  for (var r = 0u; r < RPI; r++) {
    let qv = qb[r * 8u + e];
    sa[r] = scores4(qv, k0, k1, k2, k3, sa[r]);
    sb[r] = scores4(qv, k4, k5, k6, k7, sb[r]);
  }
}

// Output: the 8 tokens' V vec4 e of the head-dim block, weighted by their probabilities (sa / sb), into ab.
fn pv(e: u32, v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32>, v4: vec4<f32>, v5: vec4<f32>, v6: vec4<f32>, v7: vec4<f32>) {
  for (var r = 0u; r < RPI; r++) {
    ab[r * 8u + e] = weighted8(sa[r], sb[r], v0, v1, v2, v3, v4, v5, v6, v7, ab[r * 8u + e]);
  }
}

// Scores pass: the tile's scores (log2 units) into sc, over the head-dim blocks of q and K.
fn tile_scores(lane: u32, base: u32) {
  for (var i = 0u; i < 2u * RPI * NB; i++) { sc[i] = vec4<f32>(0.0); }
  for (var j = 0u; j < DQ4; j += 8u) {
    // Past the last vec4 of a row: q is zero (and K re-reads the last vec4, in the row).
    for (var r = 0u; r < RPI; r++) {
      for (var e = 0u; e < 8u; e++) { qb[r * 8u + e] = select(vec4<f32>(0.0), qr[r * DQ4 + min(j + e, DQ4 - 1u)], j + e < DQ4); }
    }
    let col = min(j + lane, DQ4 - 1u);
    for (var blk = 0u; blk < NB; blk++) {
      let t = blk * 8u * DQ4 + col;
      let c0 = k_s[t];
      let c1 = k_s[t + DQ4];
      let c2 = k_s[t + 2u * DQ4];
      let c3 = k_s[t + 3u * DQ4];
      let c4 = k_s[t + 4u * DQ4];
      let c5 = k_s[t + 5u * DQ4];
      let c6 = k_s[t + 6u * DQ4];
      let c7 = k_s[t + 7u * DQ4];
      for (var r = 0u; r < RPI; r++) {
        sa[r] = sc[(blk * RPI + r) * 2u];
        sb[r] = sc[(blk * RPI + r) * 2u + 1u];
      }
      qk(0u, subgroupShuffle(c0, base), subgroupShuffle(c1, base), subgroupShuffle(c2, base), subgroupShuffle(c3, base), subgroupShuffle(c4, base), subgroupShuffle(c5, base), subgroupShuffle(c6, base), subgroupShuffle(c7, base));
      qk(1u, subgroupShuffle(c0, base + 1u), subgroupShuffle(c1, base + 1u), subgroupShuffle(c2, base + 1u), subgroupShuffle(c3, base + 1u), subgroupShuffle(c4, base + 1u), subgroupShuffle(c5, base + 1u), subgroupShuffle(c6, base + 1u), subgroupShuffle(c7, base + 1u));
      qk(2u, subgroupShuffle(c0, base + 2u), subgroupShuffle(c1, base + 2u), subgroupShuffle(c2, base + 2u), subgroupShuffle(c3, base + 2u), subgroupShuffle(c4, base + 2u), subgroupShuffle(c5, base + 2u), subgroupShuffle(c6, base + 2u), subgroupShuffle(c7, base + 2u));
      qk(3u, subgroupShuffle(c0, base + 3u), subgroupShuffle(c1, base + 3u), subgroupShuffle(c2, base + 3u), subgroupShuffle(c3, base + 3u), subgroupShuffle(c4, base + 3u), subgroupShuffle(c5, base + 3u), subgroupShuffle(c6, base + 3u), subgroupShuffle(c7, base + 3u));
      qk(4u, subgroupShuffle(c0, base + 4u), subgroupShuffle(c1, base + 4u), subgroupShuffle(c2, base + 4u), subgroupShuffle(c3, base + 4u), subgroupShuffle(c4, base + 4u), subgroupShuffle(c5, base + 4u), subgroupShuffle(c6, base + 4u), subgroupShuffle(c7, base + 4u));
      qk(5u, subgroupShuffle(c0, base + 5u), subgroupShuffle(c1, base + 5u), subgroupShuffle(c2, base + 5u), subgroupShuffle(c3, base + 5u), subgroupShuffle(c4, base + 5u), subgroupShuffle(c5, base + 5u), subgroupShuffle(c6, base + 5u), subgroupShuffle(c7, base + 5u));
      qk(6u, subgroupShuffle(c0, base + 6u), subgroupShuffle(c1, base + 6u), subgroupShuffle(c2, base + 6u), subgroupShuffle(c3, base + 6u), subgroupShuffle(c4, base + 6u), subgroupShuffle(c5, base + 6u), subgroupShuffle(c6, base + 6u), subgroupShuffle(c7, base + 6u));
      qk(7u, subgroupShuffle(c0, base + 7u), subgroupShuffle(c1, base + 7u), subgroupShuffle(c2, base + 7u), subgroupShuffle(c3, base + 7u), subgroupShuffle(c4, base + 7u), subgroupShuffle(c5, base + 7u), subgroupShuffle(c6, base + 7u), subgroupShuffle(c7, base + 7u));
      for (var r = 0u; r < RPI; r++) {
        sc[(blk * RPI + r) * 2u] = sa[r];
        sc[(blk * RPI + r) * 2u + 1u] = sb[r];
      }
    }
  }
}

// Online softmax over the tile (its first token at t0): each row's new maximum, the old sums rescaled (alpha),
// the probabilities in sc (zero where masked).
fn tile_softmax(t0: u32) {
  for (var r = 0u; r < RPI; r++) {
    var mx = vec4<f32>(NEG);
    for (var blk = 0u; blk < NB; blk++) {
      let t = vec4<u32>(t0 + blk * 8u);
      let i = (blk * RPI + r) * 2u;
      let xa = select(vec4<f32>(NEG), sc[i], t + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(limit[r]));
      let xb = select(vec4<f32>(NEG), sc[i + 1u], t + vec4<u32>(4u, 5u, 6u, 7u) < vec4<u32>(limit[r]));
      sc[i] = xa;
      sc[i + 1u] = xb;
      mx = max(mx, max(xa, xb));
    }
    let m_new = max(m[r], max(max(mx.x, mx.y), max(mx.z, mx.w)));
    alpha[r] = exp2(m[r] - m_new);
    m[r] = m_new;
    var sum = vec4<f32>(0.0);
    for (var blk = 0u; blk < NB; blk++) {
      let i = (blk * RPI + r) * 2u;
      let pa = select(exp2(sc[i] - m_new), vec4<f32>(0.0), sc[i] <= vec4<f32>(0.5 * NEG));
      let pb = select(exp2(sc[i + 1u] - m_new), vec4<f32>(0.0), sc[i + 1u] <= vec4<f32>(0.5 * NEG));
      sc[i] = pa;
      sc[i + 1u] = pb;
      sum += pa + pb;
    }
    l[r] = l[r] * alpha[r] + ((sum.x + sum.y) + (sum.z + sum.w));
  }
}

// Output pass: O = O * alpha + P V, one head-dim block of 8 vec4s per row at a time.
fn tile_values(lane: u32, base: u32) {
  for (var j = 0u; j < DV4; j += 8u) {
    for (var r = 0u; r < RPI; r++) {
      for (var e = 0u; e < 8u; e++) { ab[r * 8u + e] = o[r * DV4 + min(j + e, DV4 - 1u)] * alpha[r]; }
    }
    let col = min(j + lane, DV4 - 1u);
    for (var blk = 0u; blk < NB; blk++) {
      let t = blk * 8u * DV4 + col;
      let c0 = v_s[t];
      let c1 = v_s[t + DV4];
      let c2 = v_s[t + 2u * DV4];
      let c3 = v_s[t + 3u * DV4];
      let c4 = v_s[t + 4u * DV4];
      let c5 = v_s[t + 5u * DV4];
      let c6 = v_s[t + 6u * DV4];
      let c7 = v_s[t + 7u * DV4];
      for (var r = 0u; r < RPI; r++) {
        sa[r] = sc[(blk * RPI + r) * 2u];
        sb[r] = sc[(blk * RPI + r) * 2u + 1u];
      }
      pv(0u, subgroupShuffle(c0, base), subgroupShuffle(c1, base), subgroupShuffle(c2, base), subgroupShuffle(c3, base), subgroupShuffle(c4, base), subgroupShuffle(c5, base), subgroupShuffle(c6, base), subgroupShuffle(c7, base));
      pv(1u, subgroupShuffle(c0, base + 1u), subgroupShuffle(c1, base + 1u), subgroupShuffle(c2, base + 1u), subgroupShuffle(c3, base + 1u), subgroupShuffle(c4, base + 1u), subgroupShuffle(c5, base + 1u), subgroupShuffle(c6, base + 1u), subgroupShuffle(c7, base + 1u));
      pv(2u, subgroupShuffle(c0, base + 2u), subgroupShuffle(c1, base + 2u), subgroupShuffle(c2, base + 2u), subgroupShuffle(c3, base + 2u), subgroupShuffle(c4, base + 2u), subgroupShuffle(c5, base + 2u), subgroupShuffle(c6, base + 2u), subgroupShuffle(c7, base + 2u));
      pv(3u, subgroupShuffle(c0, base + 3u), subgroupShuffle(c1, base + 3u), subgroupShuffle(c2, base + 3u), subgroupShuffle(c3, base + 3u), subgroupShuffle(c4, base + 3u), subgroupShuffle(c5, base + 3u), subgroupShuffle(c6, base + 3u), subgroupShuffle(c7, base + 3u));
      pv(4u, subgroupShuffle(c0, base + 4u), subgroupShuffle(c1, base + 4u), subgroupShuffle(c2, base + 4u), subgroupShuffle(c3, base + 4u), subgroupShuffle(c4, base + 4u), subgroupShuffle(c5, base + 4u), subgroupShuffle(c6, base + 4u), subgroupShuffle(c7, base + 4u));
      pv(5u, subgroupShuffle(c0, base + 5u), subgroupShuffle(c1, base + 5u), subgroupShuffle(c2, base + 5u), subgroupShuffle(c3, base + 5u), subgroupShuffle(c4, base + 5u), subgroupShuffle(c5, base + 5u), subgroupShuffle(c6, base + 5u), subgroupShuffle(c7, base + 5u));
      pv(6u, subgroupShuffle(c0, base + 6u), subgroupShuffle(c1, base + 6u), subgroupShuffle(c2, base + 6u), subgroupShuffle(c3, base + 6u), subgroupShuffle(c4, base + 6u), subgroupShuffle(c5, base + 6u), subgroupShuffle(c6, base + 6u), subgroupShuffle(c7, base + 6u));
      pv(7u, subgroupShuffle(c0, base + 7u), subgroupShuffle(c1, base + 7u), subgroupShuffle(c2, base + 7u), subgroupShuffle(c3, base + 7u), subgroupShuffle(c4, base + 7u), subgroupShuffle(c5, base + 7u), subgroupShuffle(c6, base + 7u), subgroupShuffle(c7, base + 7u));
    }
    for (var r = 0u; r < RPI; r++) {
      for (var e = 0u; e < 8u; e++) {
        if (j + e < DV4) { o[r * DV4 + j + e] = ab[r * 8u + e]; }
      }
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sg: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let block0 = causal_block(wid.x) * WG * RPI;
  let kvh = wid.y;
  let b = wid.z;
  let kv_len = seqs[2u * b];
  let head = kv_head(b, kvh, kv_len);
  // Rows are ordered by query position, so the block's last valid row sees the most tokens.
  let t_stop = live_limit(min(block0 + WG * RPI, params.rows) - 1u, kv_len);
  let row0 = block0 + lid * RPI;
  // This lane's place in its group of 8 lanes, and the group's first lane.
  let lane = sg % 8u;
  let base = sg - lane;

  for (var r = 0u; r < RPI; r++) {
    let q_row = out_row_of(b, kvh, min(row0 + r, params.rows - 1u)) * DQ4;
    for (var c = 0u; c < DQ4; c++) { qr[r * DQ4 + c] = vec4<f32>(q[q_row + c]) * params.scale_log2; }
    for (var c = 0u; c < DV4; c++) { o[r * DV4 + c] = vec4<f32>(0.0); }
    limit[r] = live_limit(row0 + r, kv_len);
    m[r] = NEG;
    l[r] = 0.0;
  }

  for (var t0 = 0u; t0 < t_stop; t0 += BK) {
    workgroupBarrier();
    load_tile(lid, head, t0, min(BK, t_stop - t0));
    workgroupBarrier();
    tile_scores(lane, base);
    tile_softmax(t0);
    tile_values(lane, base);
  }

  // Normalise and store; a row that saw no token stores zeros.
  for (var r = 0u; r < RPI; r++) {
    let row = row0 + r;
    if (row < params.rows) {
      let dst = out_row_of(b, kvh, row) * D_V;
      let inv = select(1.0 / l[r], 0.0, l[r] == 0.0);
      for (var c = 0u; c < DV4; c++) {
        let a = o[r * DV4 + c] * inv;
        for (var e = 0u; e < 4u; e++) {
          if (c * 4u + e < D_V) { out[dst + c * 4u + e] = T(a[e]); }
        }
      }
    }
  }
}
