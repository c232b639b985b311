enable subgroups;
// Attention, "rows" tiling with subgroup-cooperative loads: the CPU-adapter kernel (lavapipe / llvmpipe) for
// MHA / GQA / MQA decode and prefill and for MLA's absorbed attend, where the latent cache row
// [c_KV (D_V) ; k_rope] is the key and its first D_V elements the value (k and v bound to the same buffer,
// V_STRIDE4 = DQ4).
//
// A workgroup owns one sequence, one KV head, one split of its tokens and WG x RPI query rows of that KV head
// (rows = q_len x group, ordered (position, head)), RPI rows per invocation: all the rows walk the same tokens
// together, so each K/V row is read once per workgroup. On llvmpipe every storage load is a per-lane gather,
// even when all lanes want the same address, so the lanes of a subgroup (>= 8) load cooperatively: lane i
// fetches vec4 j + i of each of the 8 token rows (eight useful values per gather instead of one) and every lane
// takes each vec4 from its owner with subgroupShuffle (a register permute): 2.3x faster than per-lane loads for
// the absorbed attend at DeepSeek-V2-Lite. A last partial block of a row clamps its loads into the row. Eight
// tokens per step: 8 x RPI scores per K vec4, 8 value rows per accumulator read-modify-write; the dot products
// are spelled as FMAs over token-transposed vec4s (free in llvmpipe's SoA form). No workgroup memory, no
// barriers. Loop bounds are the compile-time DQ4 / DV4 (not the uniform's): llvmpipe then keeps the q rows and
// accumulators in registers and spill slots instead of indexed scratch memory (measured: 2-3x faster).
// main writes the split-KV partials of attention_rows.wgsl, which attention_reduce.wgsl merges; main_direct
// (one split) writes the normalised output itself.
//
// Params, bindings and layouts are the attention core's (see attention_rows.wgsl); row_groups counts row
// blocks of WG x RPI rows.
override WG: u32 = 16;
override RPI: u32 = 2;
override D_QK: u32 = 576;
override D_V: u32 = 512;
override DQ4: u32 = (D_QK + 3u) / 4u;
override DV4: u32 = (D_V + 3u) / 4u;
override V_STRIDE4: u32 = DV4;

const NEG: f32 = -1.0e30;
// Private rows in vec4s: RPI x DQ4 <= MAXQ and RPI x DV4 <= MAXV (MLA: 2 x 576 / 2 x 512 elements; head dim
// 128: up to 8 rows). Not powers of two (llvmpipe lays private arrays out per lane; power-of-two strides alias
// in L1).
const MAX_RPI: u32 = 8u;
const MAXQ: u32 = 586u;
const MAXV: u32 = 522u;

struct Params {
  n_q: u32,
  n_kv: u32,
  q_len: u32,
  group: u32,
  rows: u32,
  row_groups: u32,
  chunk: u32,
  n_splits: u32,
  causal: u32,
  scale_log2: f32,
  dq4: u32,
  dv4: u32,
  batch: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> seqs: array<u32>;
@group(0) @binding(2) var<storage, read> q: array<vec4<T>>;
@group(0) @binding(3) var<storage, read> k: array<vec4<T>>;
@group(0) @binding(4) var<storage, read> v: array<vec4<T>>;
@group(0) @binding(5) var<storage, read_write> part_o: array<f32>;
@group(0) @binding(6) var<storage, read_write> part_ml: array<vec2<f32>>;
// main_direct (one split: prefill): the normalised output rows [batch][q_len][n_q][D_V], with no reduce stage.
@group(0) @binding(5) var<storage, read_write> out: array<T>;

fn row_limit(row: u32, kv_len: u32) -> u32 {
  if (params.causal == 0u) { return kv_len; }
  let reach = kv_len + row / params.group + 1u;
  return select(0u, min(kv_len, reach - params.q_len), reach > params.q_len);
}

fn hmax(x: vec4<f32>) -> f32 {
  return max(max(x.x, x.y), max(x.z, x.w));
}

fn hsum(x: vec4<f32>) -> f32 {
  return (x.x + x.y) + (x.z + x.w);
}

fn out_row_of(b: u32, kvh: u32, row: u32) -> u32 {
  return (b * params.q_len + row / params.group) * params.n_q + kvh * params.group + row % params.group;
}

// Per-invocation state, module-scope so that the helpers below can use it (private = per invocation).
var<private> qr: array<vec4<f32>, MAXQ>;
var<private> acc: array<vec4<f32>, MAXV>;
var<private> sa: array<vec4<f32>, MAX_RPI>;
var<private> sb: array<vec4<f32>, MAX_RPI>;
var<private> pa: array<vec4<f32>, MAX_RPI>;
var<private> pb: array<vec4<f32>, MAX_RPI>;
var<private> alpha: array<f32, MAX_RPI>;
var<private> limit: array<u32, MAX_RPI>;
var<private> m: array<f32, MAX_RPI>;
var<private> l: array<f32, MAX_RPI>;

// The rows of an invocation: sequence b, KV head kvh, split, first row row0 (live = false: a spare workgroup).
struct Tile {
  b: u32,
  kvh: u32,
  split: u32,
  row0: u32,
  live: bool,
}

// Scores: q column d4 of every row against K vec4 d4 of the 8 tokens (token-transposed FMAs).
fn qk(d4: u32, k0: vec4<f32>, k1: vec4<f32>, k2: vec4<f32>, k3: vec4<f32>, k4: vec4<f32>, k5: vec4<f32>, k6: vec4<f32>, k7: vec4<f32>) {
  for (var r = 0u; r < RPI; r++) {
    let qv = qr[r * DQ4 + d4];
    var xa = sa[r];
    xa = fma(vec4<f32>(qv.x), vec4<f32>(k0.x, k1.x, k2.x, k3.x), xa);
    xa = fma(vec4<f32>(qv.y), vec4<f32>(k0.y, k1.y, k2.y, k3.y), xa);
    xa = fma(vec4<f32>(qv.z), vec4<f32>(k0.z, k1.z, k2.z, k3.z), xa);
    sa[r] = fma(vec4<f32>(qv.w), vec4<f32>(k0.w, k1.w, k2.w, k3.w), xa);
    var xb = sb[r];
    xb = fma(vec4<f32>(qv.x), vec4<f32>(k4.x, k5.x, k6.x, k7.x), xb);
    xb = fma(vec4<f32>(qv.y), vec4<f32>(k4.y, k5.y, k6.y, k7.y), xb);
    xb = fma(vec4<f32>(qv.z), vec4<f32>(k4.z, k5.z, k6.z, k7.z), xb);
    sb[r] = fma(vec4<f32>(qv.w), vec4<f32>(k4.w, k5.w, k6.w, k7.w), xb);
  }
}

// Output: accumulator column c4 of every row, rescaled, plus the 8 tokens' V vec4 c4 weighted by p.
fn pv(c4: u32, v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32>, v4: vec4<f32>, v5: vec4<f32>, v6: vec4<f32>, v7: vec4<f32>) {
  for (var r = 0u; r < RPI; r++) {
    let p = pa[r];
    let pq = pb[r];
    var x = acc[r * DV4 + c4] * alpha[r];
    x = fma(vec4<f32>(p.x), v0, x);
    x = fma(vec4<f32>(p.y), v1, x);
    x = fma(vec4<f32>(p.z), v2, x);
    x = fma(vec4<f32>(p.w), v3, x);
    x = fma(vec4<f32>(pq.x), v4, x);
    x = fma(vec4<f32>(pq.y), v5, x);
    x = fma(vec4<f32>(pq.z), v6, x);
    acc[r * DV4 + c4] = fma(vec4<f32>(pq.w), v7, x);
  }
}

// Walks the tile's tokens, leaving m, l and acc of its rows in the private state.
fn attend_tile(sl: u32, lid: u32, wid: vec3<u32>, groups: vec3<u32>) -> Tile {
  let flat = wid.x + wid.y * groups.x;
  let rb = flat % params.row_groups;
  var rest = flat / params.row_groups;
  let split = rest % params.n_splits;
  rest = rest / params.n_splits;
  let kvh = rest % params.n_kv;
  let b = rest / params.n_kv;
  if (b >= params.batch) {
    return Tile(0u, 0u, 0u, 0u, false);
  }
  let kv_len = seqs[2u * b];
  let kv_off = seqs[2u * b + 1u];
  let block0 = rb * WG * RPI;
  let t_begin = split * params.chunk;
  // Rows are ordered by position: the block's last row sees the furthest.
  let t_stop = min(min(t_begin + params.chunk, kv_len), row_limit(min(block0 + WG * RPI, params.rows) - 1u, kv_len));
  let row0 = block0 + lid * RPI;
  let head_row = kv_off * params.n_kv + kvh * kv_len;
  let k_base = head_row * DQ4;
  let v_base = head_row * V_STRIDE4;

  for (var r = 0u; r < RPI; r++) {
    let row = min(row0 + r, params.rows - 1u);
    let out_row = out_row_of(b, kvh, row);
    for (var d4 = 0u; d4 < DQ4; d4++) { qr[r * DQ4 + d4] = vec4<f32>(q[out_row * DQ4 + d4]) * params.scale_log2; }
    for (var c4 = 0u; c4 < DV4; c4++) { acc[r * DV4 + c4] = vec4<f32>(0.0); }
    limit[r] = select(0u, row_limit(row, kv_len), row0 + r < params.rows);
    m[r] = NEG;
    l[r] = 0.0;
  }

  for (var t0 = t_begin; t0 < t_stop; t0 += 8u) {
    // Tokens past the end re-read the last one (in bounds) and are masked.
    let last = t_stop - 1u;
    let ta = min(vec4<u32>(t0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last));
    let tb = min(vec4<u32>(t0) + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(last));
    let ka = vec4<u32>(k_base) + ta * DQ4;
    let kb = vec4<u32>(k_base) + tb * DQ4;
    for (var r = 0u; r < RPI; r++) {
      sa[r] = vec4<f32>(0.0);
      sb[r] = vec4<f32>(0.0);
    }
    // Subgroup-cooperative loads: lane sl fetches vec4 j + sl of each of the 8 token rows (eight useful
    // values per gather instead of one), then every lane takes each vec4 from its owner by shuffle.
    for (var j = 0u; j < DQ4; j += 8u) {
      let col = min(j + sl, DQ4 - 1u);
      let c0 = vec4<f32>(k[ka.x + col]);
      let c1 = vec4<f32>(k[ka.y + col]);
      let c2 = vec4<f32>(k[ka.z + col]);
      let c3 = vec4<f32>(k[ka.w + col]);
      let c4 = vec4<f32>(k[kb.x + col]);
      let c5 = vec4<f32>(k[kb.y + col]);
      let c6 = vec4<f32>(k[kb.z + col]);
      let c7 = vec4<f32>(k[kb.w + col]);
      for (var e = 0u; e < min(8u, DQ4 - j); e++) {
        qk(j + e, subgroupShuffle(c0, e), subgroupShuffle(c1, e), subgroupShuffle(c2, e), subgroupShuffle(c3, e), subgroupShuffle(c4, e), subgroupShuffle(c5, e), subgroupShuffle(c6, e), subgroupShuffle(c7, e));
      }
    }
    for (var r = 0u; r < RPI; r++) {
      let valid_a = (vec4<u32>(t0) + vec4<u32>(0u, 1u, 2u, 3u)) < vec4<u32>(limit[r]);
      let valid_b = (vec4<u32>(t0) + vec4<u32>(4u, 5u, 6u, 7u)) < vec4<u32>(limit[r]);
      let xa = select(vec4<f32>(NEG), sa[r], valid_a);
      let xb = select(vec4<f32>(NEG), sb[r], valid_b);
      let m_new = max(m[r], max(hmax(xa), hmax(xb)));
      alpha[r] = exp2(m[r] - m_new);
      pa[r] = select(vec4<f32>(0.0), exp2(xa - m_new), valid_a);
      pb[r] = select(vec4<f32>(0.0), exp2(xb - m_new), valid_b);
      l[r] = l[r] * alpha[r] + (hsum(pa[r]) + hsum(pb[r]));
      m[r] = m_new;
    }
    let va = vec4<u32>(v_base) + ta * V_STRIDE4;
    let vb = vec4<u32>(v_base) + tb * V_STRIDE4;
    for (var j = 0u; j < DV4; j += 8u) {
      let col = min(j + sl, DV4 - 1u);
      let c0 = vec4<f32>(v[va.x + col]);
      let c1 = vec4<f32>(v[va.y + col]);
      let c2 = vec4<f32>(v[va.z + col]);
      let c3 = vec4<f32>(v[va.w + col]);
      let c4 = vec4<f32>(v[vb.x + col]);
      let c5 = vec4<f32>(v[vb.y + col]);
      let c6 = vec4<f32>(v[vb.z + col]);
      let c7 = vec4<f32>(v[vb.w + col]);
      for (var e = 0u; e < min(8u, DV4 - j); e++) {
        pv(j + e, subgroupShuffle(c0, e), subgroupShuffle(c1, e), subgroupShuffle(c2, e), subgroupShuffle(c3, e), subgroupShuffle(c4, e), subgroupShuffle(c5, e), subgroupShuffle(c6, e), subgroupShuffle(c7, e));
      }
    }
  }

  return Tile(b, kvh, split, row0, true);
}

@compute @workgroup_size(WG)
fn main(@builtin(subgroup_invocation_id) sl: u32, @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let tile = attend_tile(sl, lid, wid, groups);
  if (!tile.live) {
    return;
  }
  for (var r = 0u; r < RPI; r++) {
    if (tile.row0 + r >= params.rows) { break; }
    let slot = out_row_of(tile.b, tile.kvh, tile.row0 + r) * params.n_splits + tile.split;
    part_ml[slot] = vec2<f32>(m[r], l[r]);
    for (var c4 = 0u; c4 < DV4; c4++) {
      let a = acc[r * DV4 + c4];
      for (var e = 0u; e < 4u; e++) {
        let c = c4 * 4u + e;
        if (c < D_V) { part_o[slot * D_V + c] = a[e]; }
      }
    }
  }
}

@compute @workgroup_size(WG)
fn main_direct(@builtin(subgroup_invocation_id) sl: u32, @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let tile = attend_tile(sl, lid, wid, groups);
  if (!tile.live) {
    return;
  }
  for (var r = 0u; r < RPI; r++) {
    if (tile.row0 + r >= params.rows) { break; }
    let base = out_row_of(tile.b, tile.kvh, tile.row0 + r) * D_V;
    // Rows that saw no token (none past a causal start) are 0, as the reduce makes them.
    let inv = select(1.0 / l[r], 0.0, l[r] == 0.0);
    for (var c4 = 0u; c4 < DV4; c4++) {
      let a = acc[r * DV4 + c4] * inv;
      for (var e = 0u; e < 4u; e++) {
        let c = c4 * 4u + e;
        if (c < D_V) { out[base + c] = T(a[e]); }
      }
    }
  }
}
