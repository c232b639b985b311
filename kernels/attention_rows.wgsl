// Attention, "rows" tiling: each invocation owns RPI query rows of one KV head and one chunk of tokens
// (a split) and walks that chunk on its own: no workgroup memory, no barriers. The tiling for CPU adapters
// (lavapipe / llvmpipe), where a workgroup runs as SIMD lanes, every load is a per-lane gather (so a K/V
// element loaded once must feed several rows from registers: RPI), a barrier turns the whole shader into a
// coroutine, and long per-invocation loops over contiguous memory are fastest. GPUs use the workgroup-tiled
// kernels (attention_decode.wgsl, attention_prefill.wgsl).
//
// Invocation i -> (batch b, KV head, split, row group): row groups vary fastest, so neighbouring invocations
// read the same K/V rows (GQA/MQA) or neighbouring splits of one head (MHA). Rows of a group are
// row = s * group + g (query positions x the group query heads of the KV head). Each invocation keeps its
// q rows (pre-scaled by scale * log2 e) and output rows in private memory and walks its tokens four at a
// time: 4 x RPI dot products, one online-softmax step per row (exp2), four V rows into RPI output rows.
// Serves decode (many splits) and prefill (one split, causal) alike; writes the partials of
// attention_decode.wgsl, merged by attention_reduce.wgsl.
//
// Params, bindings 0-4 and the q / k / v layouts: attention_common.wgsl; row_blocks counts blocks of RPI rows.
// Outputs as attention_decode.wgsl's: part_o [batch][q_len][n_q][n_splits][D_V], part_ml [batch][q_len][n_q][n_splits].

override WG: u32 = 64;
override RPI: u32 = 1;     // query rows per invocation (RPI * DQ4 <= MAXQ, RPI * DV4 <= MAXV, RPI <= MAX_RPI)
// #include "attention_common.wgsl"
// #include "attention_grid.wgsl"

// Private row buffers, in vec4s: RPI * DQ4 and RPI * DV4 must fit (head dims up to 1032 at RPI 1, 128 at
// RPI 8). Not a power of two: llvmpipe lays private arrays out per lane, and 4 KiB strides would alias the
// lanes in the L1 cache (measured: 1.5x slower).
const MAXQ: u32 = 258u;
const MAXV: u32 = 258u;
const MAX_RPI: u32 = 8u;

@group(0) @binding(5) var<storage, read_write> part_o: array<f32>;
@group(0) @binding(6) var<storage, read_write> part_ml: array<vec2<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let cell = cell_of(gid.x + gid.y * groups.x * WG);
  if (!cell.live) {
    return;
  }
  let row0 = cell.row_block * RPI;
  let n_rows = min(RPI, params.rows - row0);
  // Rows are ordered by query position: the group's last row sees the furthest; each row masks the rest.
  let t_stop = min(cell.t_end, row_limit(row0 + n_rows - 1u, cell.kv_len));

  var qr: array<vec4<f32>, MAXQ>;
  var acc: array<vec4<f32>, MAXV>;
  var limit: array<u32, MAX_RPI>;
  var m: array<f32, MAX_RPI>;
  var l: array<f32, MAX_RPI>;
  for (var r = 0u; r < RPI; r++) {
    let row = row0 + min(r, n_rows - 1u);
    let out_row = out_row_of(cell.b, cell.kvh, row);
    for (var d4 = 0u; d4 < params.dq4; d4++) { qr[r * DQ4 + d4] = vec4<f32>(q[out_row * DQ4 + d4]) * params.scale_log2; }
    for (var c4 = 0u; c4 < params.dv4; c4++) { acc[r * DV4 + c4] = vec4<f32>(0.0); }
    limit[r] = select(0u, row_limit(row, cell.kv_len), r < n_rows);
    m[r] = NEG;
    l[r] = 0.0;
  }

  for (var t0 = cell.t_begin; t0 < t_stop; t0 += 4u) {
    // Tokens past the end re-read the last one (in bounds) and are masked.
    let last = t_stop - 1u;
    let t = vec4<u32>(t0, min(t0 + 1u, last), min(t0 + 2u, last), min(t0 + 3u, last));
    let at = kv_rows4(cell.head, t);
    let kr = at.row * DQ4;
    var s: array<vec4<f32>, MAX_RPI>;
    for (var r = 0u; r < RPI; r++) { s[r] = vec4<f32>(0.0); }
    for (var d4 = 0u; d4 < params.dq4; d4++) {
      let k0 = vec4<f32>(k_at(at.pool.x, kr.x + d4));
      let k1 = vec4<f32>(k_at(at.pool.y, kr.y + d4));
      let k2 = vec4<f32>(k_at(at.pool.z, kr.z + d4));
      let k3 = vec4<f32>(k_at(at.pool.w, kr.w + d4));
      for (var r = 0u; r < RPI; r++) {
        let qv = qr[r * DQ4 + d4];
        s[r] += vec4<f32>(dot(qv, k0), dot(qv, k1), dot(qv, k2), dot(qv, k3));
      }
    }
    var alpha: array<f32, MAX_RPI>;
    var p: array<vec4<f32>, MAX_RPI>;
    for (var r = 0u; r < RPI; r++) {
      let valid = (vec4<u32>(t0) + vec4<u32>(0u, 1u, 2u, 3u)) < vec4<u32>(limit[r]);
      let sr = select(vec4<f32>(NEG), s[r], valid);
      let m_new = max(m[r], max(max(sr.x, sr.y), max(sr.z, sr.w)));
      alpha[r] = exp2(m[r] - m_new);
      p[r] = select(vec4<f32>(0.0), exp2(sr - m_new), valid);
      l[r] = l[r] * alpha[r] + ((p[r].x + p[r].y) + (p[r].z + p[r].w));
      m[r] = m_new;
    }
    let vr = at.row * V_STRIDE4;
    for (var c4 = 0u; c4 < params.dv4; c4++) {
      let v0 = vec4<f32>(v_at(at.pool.x, vr.x + c4));
      let v1 = vec4<f32>(v_at(at.pool.y, vr.y + c4));
      let v2 = vec4<f32>(v_at(at.pool.z, vr.z + c4));
      let v3 = vec4<f32>(v_at(at.pool.w, vr.w + c4));
      for (var r = 0u; r < RPI; r++) {
        let pr = p[r];
        let x = fma(vec4<f32>(pr.y), v1, fma(vec4<f32>(pr.x), v0, acc[r * DV4 + c4] * alpha[r]));
        acc[r * DV4 + c4] = fma(vec4<f32>(pr.w), v3, fma(vec4<f32>(pr.z), v2, x));
      }
    }
  }

  for (var r = 0u; r < n_rows; r++) {
    let row = row0 + r;
    let slot = out_row_of(cell.b, cell.kvh, row) * params.n_splits + cell.split;
    part_ml[slot] = vec2<f32>(m[r], l[r]);
    for (var c4 = 0u; c4 < params.dv4; c4++) {
      let a = acc[r * DV4 + c4];
      for (var e = 0u; e < 4u; e++) {
        let c = c4 * 4u + e;
        if (c < D_V) { part_o[slot * D_V + c] = a[e]; }
      }
    }
  }
}
