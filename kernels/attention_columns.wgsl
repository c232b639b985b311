enable subgroups;
// Attention, "rows" tiling, columns kernel: the CPU-adapter kernel (lavapipe / llvmpipe) for KV heads with
// fewer than 8 query rows (MHA and small-group GQA decode, MLA's naive attend), where the subgroup rows
// kernel (attention_rows_subgroup.wgsl) has too few rows to share its loads.
//
// A workgroup is one subgroup of 8 lanes and owns one sequence, one KV head, one split of its tokens and its R
// query rows (rows = q_len x group, ordered (position, head)). The lanes split the head dims: lane sl owns vec4
// columns sl, sl + 8, ... of every q, K, V and output row. The workgroup walks its tokens one at a time: each
// lane loads its columns of the token's K row (the 8 lanes together read the row's contiguous bytes once),
// dots them with its columns of the R q rows, and subgroupAdd sums the lanes' parts into the R scores, which
// every lane then holds alike; the online softmax runs on them and each lane accumulates its columns of
// p x V. On llvmpipe every storage load is a per-lane gather and a private array indexed by a loop counter a
// gather too: here every load brings a lane its own useful data and every private index is a constant, and
// the workgroup streams one K and one V row after another (measured on lavapipe, paired: MHA decode at 128
// heads, context 1024, 2x faster than one invocation per row walking 4 token rows at a time).
// Writes the split-KV partials of attention_rows.wgsl, which attention_reduce.wgsl merges.
//
// Params, bindings 0-4 and layouts: attention_common.wgsl; row_blocks counts blocks of R rows.
override R: u32 = 1;
// #include "attention_common.wgsl"
// #include "attention_grid.wgsl"

const LANES: u32 = 8u;
// vec4 columns per lane (head dims up to LANES x MAXC x 4 = 256) and rows per workgroup.
const MAXC: u32 = 8u;
const MAX_R: u32 = 8u;

@group(0) @binding(5) var<storage, read_write> part_o: array<f32>;
@group(0) @binding(6) var<storage, read_write> part_ml: array<vec2<f32>>;

// Per-lane state: [row][column] (constant indices once the row and column loops unroll).
var<private> qc: array<vec4<f32>, MAX_R * MAXC>;
var<private> ac: array<vec4<f32>, MAX_R * MAXC>;
var<private> kc: array<vec4<f32>, MAXC>;
var<private> lim: array<u32, MAX_R>;
var<private> m: array<f32, MAX_R>;
var<private> l: array<f32, MAX_R>;
var<private> alpha: array<f32, MAX_R>;
var<private> p: array<f32, MAX_R>;

@compute @workgroup_size(LANES)
fn main(@builtin(subgroup_invocation_id) sl: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let cell = cell_of(wid.x + wid.y * groups.x);
  if (!cell.live) {
    return;
  }
  let row0 = cell.row_block * R;
  let n_rows = min(R, params.rows - row0);
  // Rows are ordered by query position: the block's last row sees the furthest; each row masks the rest.
  let t_stop = min(cell.t_end, row_limit(row0 + n_rows - 1u, cell.kv_len));

  for (var r = 0u; r < R; r++) {
    let row = row0 + min(r, n_rows - 1u);
    let q_row = out_row_of(cell.b, cell.kvh, row) * DQ4;
    for (var c = 0u; c < MAXC; c++) {
      let col = c * LANES + sl;
      // Columns past the row are 0 in q, so their (clamped, in-bounds) K loads add nothing.
      qc[r * MAXC + c] = select(vec4<f32>(0.0), vec4<f32>(q[q_row + min(col, DQ4 - 1u)]) * params.scale_log2, col < DQ4);
      ac[r * MAXC + c] = vec4<f32>(0.0);
    }
    lim[r] = select(0u, row_limit(row, cell.kv_len), r < n_rows);
    m[r] = NEG;
    l[r] = 0.0;
  }

  for (var t = cell.t_begin; t < t_stop; t++) {
    let at = kv_row(cell.head, t);
    let kr = at.row * DQ4;
    for (var c = 0u; c < MAXC; c++) {
      if (c * LANES < DQ4) { kc[c] = vec4<f32>(k_at(at.pool, kr + min(c * LANES + sl, DQ4 - 1u))); }
    }
    for (var r = 0u; r < R; r++) {
      var part = 0.0;
      for (var c = 0u; c < MAXC; c++) {
        if (c * LANES < DQ4) { part += dot(qc[r * MAXC + c], kc[c]); }
      }
      let valid = t < lim[r];
      let s = select(NEG, subgroupAdd(part), valid);
      let m_new = max(m[r], s);
      alpha[r] = exp2(m[r] - m_new);
      p[r] = select(0.0, exp2(s - m_new), valid);
      l[r] = l[r] * alpha[r] + p[r];
      m[r] = m_new;
    }
    let vr = at.row * V_STRIDE4;
    for (var c = 0u; c < MAXC; c++) {
      if (c * LANES < DV4) {
        let vv = vec4<f32>(v_at(at.pool, vr + min(c * LANES + sl, DV4 - 1u)));
        for (var r = 0u; r < R; r++) { ac[r * MAXC + c] = fma(vec4<f32>(p[r]), vv, ac[r * MAXC + c] * alpha[r]); }
      }
    }
  }

  for (var r = 0u; r < R; r++) {
    if (r >= n_rows) { break; }
    let slot = out_row_of(cell.b, cell.kvh, row0 + r) * params.n_splits + cell.split;
    if (sl == 0u) { part_ml[slot] = vec2<f32>(m[r], l[r]); }
    for (var c = 0u; c < MAXC; c++) {
      let col = c * LANES + sl;
      if (col < DV4) {
        let a = ac[r * MAXC + c];
        for (var e = 0u; e < 4u; e++) {
          if (col * 4u + e < D_V) { part_o[slot * D_V + col * 4u + e] = a[e]; }
        }
      }
    }
  }
}
