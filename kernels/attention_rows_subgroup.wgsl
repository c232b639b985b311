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
// the absorbed attend at DeepSeek-V2-Lite. A last partial block of a row clamps its loads into the row. The
// dot products are spelled as FMAs over token-transposed vec4s (free in llvmpipe's SoA form).
//
// Tokens go in tiles of TILE_BLOCKS blocks of 8, two passes per tile: the scores of every block (and the
// tile's row max), then the output column block by column block, each block's 8 x RPI output vec4s held in
// `ab` (constant indices: registers and spill slots) while the tile's value rows stream past. Private arrays
// indexed by a loop counter (q rows, accumulator rows, the tile's probabilities) are per-lane gathers and
// scatters on llvmpipe; this order touches the accumulator rows once per tile instead of once per 8 tokens
// (measured on lavapipe, paired: MHA prefill and the absorbed decode 6-9% faster than one pass per 8 tokens).
// The private rows are sized per shape by the host (MAXQ, MAXV: WGSL private arrays need const lengths, and
// every private variable is zeroed at the start of an invocation: 5% of the MHA prefill with MLA-sized rows).
// No workgroup memory, no barriers.
// main writes the split-KV partials of attention_rows.wgsl, which attention_reduce.wgsl merges; main_direct
// (one split) writes the normalised output itself.
//
// Params, bindings 0-4 and layouts: attention_common.wgsl; row_blocks counts row blocks of WG x RPI rows.
override WG: u32 = 16;
override RPI: u32 = 2;
// #include "attention_common.wgsl"
// #include "attention_grid.wgsl"
// #include "token8_fma.wgsl"
const MAX_RPI: u32 = 8u;
// MAXQ and MAXV, the private q and accumulator rows in vec4s (>= RPI x DQ4 and RPI x DV4), come from the host
// (StageDecl.sizes): `const MAXQ: u32 = ...;` ahead of this source.
// Token tile: TILE_BLOCKS blocks of 8 tokens.
const TILE_BLOCKS: u32 = 8u;
const PTILE: u32 = 2u * MAX_RPI * TILE_BLOCKS + 2u;
const MAX_AB: u32 = 8u * MAX_RPI;

@group(0) @binding(5) var<storage, read_write> part_o: array<f32>;
@group(0) @binding(6) var<storage, read_write> part_ml: array<vec2<f32>>;
// main_direct (one split: prefill): the normalised output rows [batch][q_len][n_q][D_V], with no reduce stage.
@group(0) @binding(5) var<storage, read_write> out: array<T>;

fn hmax(x: vec4<f32>) -> f32 {
  return max(max(x.x, x.y), max(x.z, x.w));
}

fn hsum(x: vec4<f32>) -> f32 {
  return (x.x + x.y) + (x.z + x.w);
}

// Per-invocation state, module-scope so that the helpers below can use it (private = per invocation).
var<private> qr: array<vec4<f32>, MAXQ>;
var<private> acc: array<vec4<f32>, MAXV>;
var<private> sa: array<vec4<f32>, MAX_RPI>;
var<private> sb: array<vec4<f32>, MAX_RPI>;
var<private> pa: array<vec4<f32>, MAX_RPI>;
var<private> pb: array<vec4<f32>, MAX_RPI>;
var<private> alpha: array<f32, MAX_RPI>;
var<private> tm: array<f32, MAX_RPI>;
// A tile's scores, then probabilities: [block][row][a | b] (8 tokens per block).
var<private> ptile: array<vec4<f32>, PTILE>;
// The output vec4s of one column block: [row][8].
var<private> ab: array<vec4<f32>, MAX_AB>;
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
    sa[r] = scores4(qv, k0, k1, k2, k3, sa[r]);
    sb[r] = scores4(qv, k4, k5, k6, k7, sb[r]);
  }
}

// Output block: the 8 tokens' V vec4 e of the current column block, weighted by p, into ab (e constant).
fn pvb(e: u32, v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32>, v4: vec4<f32>, v5: vec4<f32>, v6: vec4<f32>, v7: vec4<f32>) {
  for (var r = 0u; r < RPI; r++) {
    ab[r * 8u + e] = weighted8(pa[r], pb[r], v0, v1, v2, v3, v4, v5, v6, v7, ab[r * 8u + e]);
  }
}

// Walks the tile's tokens, leaving m, l and acc of its rows in the private state.
fn attend_tile(sl: u32, lid: u32, wid: vec3<u32>, groups: vec3<u32>) -> Tile {
  let cell = cell_of(wid.x + wid.y * groups.x);
  if (!cell.live) {
    return Tile(0u, 0u, 0u, 0u, false);
  }
  let block0 = causal_block(cell.row_block) * WG * RPI;
  // Rows are ordered by position: the block's last row sees the furthest.
  let t_stop = min(cell.t_end, row_limit(min(block0 + WG * RPI, params.rows) - 1u, cell.kv_len));
  let row0 = block0 + lid * RPI;

  for (var r = 0u; r < RPI; r++) {
    let row = min(row0 + r, params.rows - 1u);
    let out_row = out_row_of(cell.b, cell.kvh, row);
    for (var d4 = 0u; d4 < DQ4; d4++) { qr[r * DQ4 + d4] = vec4<f32>(q[out_row * DQ4 + d4]) * params.scale_log2; }
    for (var c4 = 0u; c4 < DV4; c4++) { acc[r * DV4 + c4] = vec4<f32>(0.0); }
    limit[r] = select(0u, row_limit(row, cell.kv_len), row0 + r < params.rows);
    m[r] = NEG;
    l[r] = 0.0;
  }

  // Tiles of up to TILE_BLOCKS x 8 tokens, two passes each. Pass 1: the scores of the tile's 8-token blocks
  // (q . K as before) into ptile, then their probabilities against the tile's new row max. Pass 2, column
  // block outer and token block inner: the 8 x RPI output vec4s of a column block sit in `ab` (constant
  // indices: registers and spill slots) while the tile's value rows stream past, so the accumulator rows
  // (indexed by the column block: per-lane gathers and scatters on llvmpipe) are read and written once per
  // tile and column block instead of once per 8 tokens.
  let last = t_stop - 1u;
  for (var tile0 = cell.t_begin; tile0 < t_stop; tile0 += TILE_BLOCKS * 8u) {
    let blocks = (min(tile0 + TILE_BLOCKS * 8u, t_stop) - tile0 + 7u) / 8u;
    for (var r = 0u; r < RPI; r++) { tm[r] = NEG; }
    for (var blk = 0u; blk < blocks; blk++) {
      let t0 = tile0 + blk * 8u;
      // Tokens past the end re-read the last one (in bounds) and are masked.
      let ta = min(vec4<u32>(t0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last));
      let tb = min(vec4<u32>(t0) + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(last));
      let ra = kv_rows4(cell.head, ta);
      let rb = kv_rows4(cell.head, tb);
      let ka = ra.row * DQ4;
      let kb = rb.row * DQ4;
      for (var r = 0u; r < RPI; r++) {
        sa[r] = vec4<f32>(0.0);
        sb[r] = vec4<f32>(0.0);
      }
      // Subgroup-cooperative loads: lane sl fetches vec4 j + sl of each of the 8 token rows (eight useful
      // values per gather instead of one), then every lane takes each vec4 from its owner by shuffle.
      for (var j = 0u; j < DQ4; j += 8u) {
        let col = min(j + sl, DQ4 - 1u);
        let c0 = vec4<f32>(k_at(ra.pool.x, ka.x + col));
        let c1 = vec4<f32>(k_at(ra.pool.y, ka.y + col));
        let c2 = vec4<f32>(k_at(ra.pool.z, ka.z + col));
        let c3 = vec4<f32>(k_at(ra.pool.w, ka.w + col));
        let c4 = vec4<f32>(k_at(rb.pool.x, kb.x + col));
        let c5 = vec4<f32>(k_at(rb.pool.y, kb.y + col));
        let c6 = vec4<f32>(k_at(rb.pool.z, kb.z + col));
        let c7 = vec4<f32>(k_at(rb.pool.w, kb.w + col));
        for (var e = 0u; e < min(8u, DQ4 - j); e++) {
          qk(j + e, subgroupShuffle(c0, e), subgroupShuffle(c1, e), subgroupShuffle(c2, e), subgroupShuffle(c3, e), subgroupShuffle(c4, e), subgroupShuffle(c5, e), subgroupShuffle(c6, e), subgroupShuffle(c7, e));
        }
      }
      for (var r = 0u; r < RPI; r++) {
        let xa = select(vec4<f32>(NEG), sa[r], (vec4<u32>(t0) + vec4<u32>(0u, 1u, 2u, 3u)) < vec4<u32>(limit[r]));
        let xb = select(vec4<f32>(NEG), sb[r], (vec4<u32>(t0) + vec4<u32>(4u, 5u, 6u, 7u)) < vec4<u32>(limit[r]));
        ptile[(blk * RPI + r) * 2u] = xa;
        ptile[(blk * RPI + r) * 2u + 1u] = xb;
        tm[r] = max(tm[r], max(hmax(xa), hmax(xb)));
      }
    }
    // Online softmax across tiles: the new row max, the old sums rescaled, the tile's probabilities.
    for (var r = 0u; r < RPI; r++) {
      let m_new = max(m[r], tm[r]);
      alpha[r] = exp2(m[r] - m_new);
      m[r] = m_new;
      tm[r] = 0.0;
    }
    for (var blk = 0u; blk < blocks; blk++) {
      for (var r = 0u; r < RPI; r++) {
        let i = (blk * RPI + r) * 2u;
        let xa = ptile[i];
        let xb = ptile[i + 1u];
        let qa = select(exp2(xa - m[r]), vec4<f32>(0.0), xa <= vec4<f32>(0.5 * NEG));
        let qb = select(exp2(xb - m[r]), vec4<f32>(0.0), xb <= vec4<f32>(0.5 * NEG));
        ptile[i] = qa;
        ptile[i + 1u] = qb;
        tm[r] += hsum(qa) + hsum(qb);
      }
    }
    for (var r = 0u; r < RPI; r++) { l[r] = l[r] * alpha[r] + tm[r]; }
    // Pass 2: O = O * alpha + P V, one block of 8 output vec4s at a time.
    for (var j = 0u; j < DV4; j += 8u) {
      for (var r = 0u; r < RPI; r++) {
        for (var e = 0u; e < 8u; e++) { ab[r * 8u + e] = acc[r * DV4 + min(j + e, DV4 - 1u)] * alpha[r]; }
      }
      let col = min(j + sl, DV4 - 1u);
      for (var blk = 0u; blk < blocks; blk++) {
        let t0 = tile0 + blk * 8u;
        let ta = min(vec4<u32>(t0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last));
        let tb = min(vec4<u32>(t0) + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(last));
        let ra = kv_rows4(cell.head, ta);
        let rb = kv_rows4(cell.head, tb);
        let va = ra.row * V_STRIDE4 + vec4<u32>(col);
        let vb = rb.row * V_STRIDE4 + vec4<u32>(col);
        let c0 = vec4<f32>(v_at(ra.pool.x, va.x));
        let c1 = vec4<f32>(v_at(ra.pool.y, va.y));
        let c2 = vec4<f32>(v_at(ra.pool.z, va.z));
        let c3 = vec4<f32>(v_at(ra.pool.w, va.w));
        let c4 = vec4<f32>(v_at(rb.pool.x, vb.x));
        let c5 = vec4<f32>(v_at(rb.pool.y, vb.y));
        let c6 = vec4<f32>(v_at(rb.pool.z, vb.z));
        let c7 = vec4<f32>(v_at(rb.pool.w, vb.w));
        for (var r = 0u; r < RPI; r++) {
          pa[r] = ptile[(blk * RPI + r) * 2u];
          pb[r] = ptile[(blk * RPI + r) * 2u + 1u];
        }
        pvb(0u, subgroupShuffle(c0, 0u), subgroupShuffle(c1, 0u), subgroupShuffle(c2, 0u), subgroupShuffle(c3, 0u), subgroupShuffle(c4, 0u), subgroupShuffle(c5, 0u), subgroupShuffle(c6, 0u), subgroupShuffle(c7, 0u));
        pvb(1u, subgroupShuffle(c0, 1u), subgroupShuffle(c1, 1u), subgroupShuffle(c2, 1u), subgroupShuffle(c3, 1u), subgroupShuffle(c4, 1u), subgroupShuffle(c5, 1u), subgroupShuffle(c6, 1u), subgroupShuffle(c7, 1u));
        pvb(2u, subgroupShuffle(c0, 2u), subgroupShuffle(c1, 2u), subgroupShuffle(c2, 2u), subgroupShuffle(c3, 2u), subgroupShuffle(c4, 2u), subgroupShuffle(c5, 2u), subgroupShuffle(c6, 2u), subgroupShuffle(c7, 2u));
        pvb(3u, subgroupShuffle(c0, 3u), subgroupShuffle(c1, 3u), subgroupShuffle(c2, 3u), subgroupShuffle(c3, 3u), subgroupShuffle(c4, 3u), subgroupShuffle(c5, 3u), subgroupShuffle(c6, 3u), subgroupShuffle(c7, 3u));
        pvb(4u, subgroupShuffle(c0, 4u), subgroupShuffle(c1, 4u), subgroupShuffle(c2, 4u), subgroupShuffle(c3, 4u), subgroupShuffle(c4, 4u), subgroupShuffle(c5, 4u), subgroupShuffle(c6, 4u), subgroupShuffle(c7, 4u));
        pvb(5u, subgroupShuffle(c0, 5u), subgroupShuffle(c1, 5u), subgroupShuffle(c2, 5u), subgroupShuffle(c3, 5u), subgroupShuffle(c4, 5u), subgroupShuffle(c5, 5u), subgroupShuffle(c6, 5u), subgroupShuffle(c7, 5u));
        pvb(6u, subgroupShuffle(c0, 6u), subgroupShuffle(c1, 6u), subgroupShuffle(c2, 6u), subgroupShuffle(c3, 6u), subgroupShuffle(c4, 6u), subgroupShuffle(c5, 6u), subgroupShuffle(c6, 6u), subgroupShuffle(c7, 6u));
        pvb(7u, subgroupShuffle(c0, 7u), subgroupShuffle(c1, 7u), subgroupShuffle(c2, 7u), subgroupShuffle(c3, 7u), subgroupShuffle(c4, 7u), subgroupShuffle(c5, 7u), subgroupShuffle(c6, 7u), subgroupShuffle(c7, 7u));
      }
      for (var r = 0u; r < RPI; r++) {
        for (var e = 0u; e < 8u; e++) {
          if (j + e < DV4) { acc[r * DV4 + j + e] = ab[r * 8u + e]; }
        }
      }
    }
  }

  return Tile(cell.b, cell.kvh, cell.split, row0, true);
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
