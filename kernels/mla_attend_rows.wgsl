// Absorbed MLA attend, "rows" tiling for CPU adapters: attention in MQA shape over the latent cache, where
// each cache row [c_KV (D_V) ; k_rope] is the key (all D_QK = d_c + d_r elements) and its first D_V
// elements are the value, so k and v are bound to the same buffer (V_STRIDE4 = the row stride).
//
// A workgroup owns one sequence, one split of its tokens and WG query rows (rows = q_len x heads, ordered
// (position, head)), one row per invocation: all heads of a sequence walk the same tokens together, so each
// cache row is read once per workgroup, at an address uniform across the workgroup. On llvmpipe a uniform
// load is one scalar load broadcast to every lane (a per-lane address would be an 8-lane gather), and the
// lanes' q rows and output accumulators live in private memory, laid out lane-contiguously. Eight tokens per
// step: 8 scores per q vec4 read, 8 value rows per accumulator read-modify-write. No workgroup memory, no
// barriers. Writes the split-KV partials of attention_rows.wgsl; attention_reduce.wgsl merges them.
//
// Params and bindings are the attention core's (n_kv = 1, group = n_q; row_groups = row blocks of WG).
override WG: u32 = 16;
override D_QK: u32 = 576;
override D_V: u32 = 512;
override DQ4: u32 = (D_QK + 3u) / 4u;
override DV4: u32 = (D_V + 3u) / 4u;
override V_STRIDE4: u32 = DQ4;

const NEG: f32 = -1.0e30;
// Private rows in vec4s: d_c + d_r <= 584 and d_c <= 520 (the presets: 576 and 512).
const MAXQ: u32 = 146u;
const MAXV: u32 = 130u;

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

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let flat = wid.x + wid.y * groups.x;
  let rb = flat % params.row_groups;
  let rest = flat / params.row_groups;
  let split = rest % params.n_splits;
  let b = rest / params.n_splits;
  if (b >= params.batch) {
    return;
  }
  let kv_len = seqs[2u * b];
  let kv_off = seqs[2u * b + 1u];
  let row0 = rb * WG;
  let t_begin = split * params.chunk;
  // Rows are ordered by position: the block's last row sees the furthest.
  let t_stop = min(min(t_begin + params.chunk, kv_len), row_limit(min(row0 + WG, params.rows) - 1u, kv_len));
  let in_range = row0 + lid < params.rows;
  let row = min(row0 + lid, params.rows - 1u);
  let out_row = (b * params.q_len + row / params.group) * params.n_q + row % params.group;
  let limit = select(0u, row_limit(row, kv_len), in_range);
  let k_base = kv_off * DQ4;
  let v_base = kv_off * V_STRIDE4;

  var qr: array<vec4<f32>, MAXQ>;
  var acc: array<vec4<f32>, MAXV>;
  for (var d4 = 0u; d4 < params.dq4; d4++) { qr[d4] = vec4<f32>(q[out_row * DQ4 + d4]) * params.scale_log2; }
  for (var c4 = 0u; c4 < params.dv4; c4++) { acc[c4] = vec4<f32>(0.0); }
  var m = NEG;
  var l = 0.0;

  for (var t0 = t_begin; t0 < t_stop; t0 += 8u) {
    // Tokens past the end re-read the last one (in bounds) and are masked.
    let last = t_stop - 1u;
    let ta = min(vec4<u32>(t0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last));
    let tb = min(vec4<u32>(t0) + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(last));
    let ka = vec4<u32>(k_base) + ta * DQ4;
    let kb = vec4<u32>(k_base) + tb * DQ4;
    var sa = vec4<f32>(0.0);
    var sb = vec4<f32>(0.0);
    for (var d4 = 0u; d4 < params.dq4; d4++) {
      let qv = qr[d4];
      sa += vec4<f32>(dot(qv, vec4<f32>(k[ka.x + d4])), dot(qv, vec4<f32>(k[ka.y + d4])), dot(qv, vec4<f32>(k[ka.z + d4])), dot(qv, vec4<f32>(k[ka.w + d4])));
      sb += vec4<f32>(dot(qv, vec4<f32>(k[kb.x + d4])), dot(qv, vec4<f32>(k[kb.y + d4])), dot(qv, vec4<f32>(k[kb.z + d4])), dot(qv, vec4<f32>(k[kb.w + d4])));
    }
    let valid_a = (vec4<u32>(t0) + vec4<u32>(0u, 1u, 2u, 3u)) < vec4<u32>(limit);
    let valid_b = (vec4<u32>(t0) + vec4<u32>(4u, 5u, 6u, 7u)) < vec4<u32>(limit);
    let xa = select(vec4<f32>(NEG), sa, valid_a);
    let xb = select(vec4<f32>(NEG), sb, valid_b);
    let m_new = max(m, max(hmax(xa), hmax(xb)));
    let alpha = exp2(m - m_new);
    let pa = select(vec4<f32>(0.0), exp2(xa - m_new), valid_a);
    let pb = select(vec4<f32>(0.0), exp2(xb - m_new), valid_b);
    l = l * alpha + (hsum(pa) + hsum(pb));
    m = m_new;
    let va = vec4<u32>(v_base) + ta * V_STRIDE4;
    let vb = vec4<u32>(v_base) + tb * V_STRIDE4;
    for (var c4 = 0u; c4 < params.dv4; c4++) {
      var x = acc[c4] * alpha;
      x = fma(vec4<f32>(pa.x), vec4<f32>(v[va.x + c4]), x);
      x = fma(vec4<f32>(pa.y), vec4<f32>(v[va.y + c4]), x);
      x = fma(vec4<f32>(pa.z), vec4<f32>(v[va.z + c4]), x);
      x = fma(vec4<f32>(pa.w), vec4<f32>(v[va.w + c4]), x);
      x = fma(vec4<f32>(pb.x), vec4<f32>(v[vb.x + c4]), x);
      x = fma(vec4<f32>(pb.y), vec4<f32>(v[vb.y + c4]), x);
      x = fma(vec4<f32>(pb.z), vec4<f32>(v[vb.z + c4]), x);
      x = fma(vec4<f32>(pb.w), vec4<f32>(v[vb.w + c4]), x);
      acc[c4] = x;
    }
  }

  if (!in_range) {
    return;
  }
  let slot = out_row * params.n_splits + split;
  part_ml[slot] = vec2<f32>(m, l);
  for (var c4 = 0u; c4 < params.dv4; c4++) {
    let a = acc[c4];
    for (var e = 0u; e < 4u; e++) {
      let c = c4 * 4u + e;
      if (c < D_V) { part_o[slot * D_V + c] = a[e]; }
    }
  }
}
