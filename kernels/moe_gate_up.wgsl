// MoE expert FFN, part 1 (src/kernels/moe.ts): act = silu(rows gate) * (rows up) for tiles of RT rows; one
// invocation per (tile, vec4 column of the intermediate), walking the hidden dim four at a time with RT x 2 vec4 accumulators
// (vec4 loads of the rows: on CPU adapters every load is a per-lane gather, so fewer, wider loads pay).
// Weights [expert][hidden][inter] (inter fastest): neighbouring invocations read neighbouring columns.
override WG: u32 = 32;
// 0: grouped, every tile of the padded layout (expert from block_expert); 1: one expert, f.expert (host loop);
// 2: dense over f.rows rows (shared experts).
override MODE: u32 = 0u;
const RT: u32 = 8u;

struct Ffn {
  expert: u32,
  hidden: u32,
  inter: u32, // of this FFN (shared: shared experts * moe_inter)
  rows: u32,  // dense mode: tokens
  block: u32,
}

@group(0) @binding(0) var<uniform> f: Ffn;
@group(0) @binding(1) var<storage, read> rows_in: array<vec4<T>>;
@group(0) @binding(2) var<storage, read> block_expert: array<u32>;
@group(0) @binding(3) var<storage, read> starts: array<u32>;
@group(0) @binding(4) var<storage, read> counts: array<u32>;
@group(0) @binding(5) var<storage, read> total: array<u32>;
@group(0) @binding(6) var<storage, read> w_gate: array<vec4<T>>;
@group(0) @binding(7) var<storage, read> w_up: array<vec4<T>>;
@group(0) @binding(8) var<storage, read_write> act: array<vec4<f32>>;

// Which rows a tile of RT rows covers and which expert owns them: (first row, valid rows, expert).
fn tile_rows(tile: u32) -> vec3<u32> {
  if (MODE == 0u) {
    // Grouped: tiles over the padded layout; blocks are whole tiles, so a tile never spans two experts.
    // Rows past the expert's count are padding: not computed.
    let first = tile * RT;
    if (first >= total[0]) {
      return vec3<u32>(0u, 0u, 0u);
    }
    let expert = block_expert[first / f.block];
    let end = starts[expert] + counts[expert];
    return vec3<u32>(first, select(min(RT, end - first), 0u, first >= end), expert);
  }
  if (MODE == 1u) {
    // One expert (host loop): tiles over its own segment.
    let local = tile * RT;
    let count = counts[f.expert];
    if (local >= count) {
      return vec3<u32>(0u, 0u, 0u);
    }
    return vec3<u32>(starts[f.expert] + local, min(RT, count - local), f.expert);
  }
  // Dense (shared experts): tiles over the tokens.
  let first = tile * RT;
  if (first >= f.rows) {
    return vec3<u32>(0u, 0u, 0u);
  }
  return vec3<u32>(first, min(RT, f.rows - first), 0u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3<u32>) {
  let tile = tile_rows(wid.y + wid.z * groups.y);
  let inter4 = f.inter / 4u;
  let column = wid.x * WG + lid;
  if (tile.y == 0u || column >= inter4) {
    return;
  }
  let hidden4 = f.hidden / 4u;
  var offsets: array<u32, RT>;
  for (var r = 0u; r < RT; r++) {
    offsets[r] = (tile.x + min(r, tile.y - 1u)) * hidden4;
  }
  var acc_gate: array<vec4<f32>, RT>;
  var acc_up: array<vec4<f32>, RT>;
  var w = tile.z * f.hidden * inter4 + column;
  for (var h4 = 0u; h4 < hidden4; h4++) {
    let g0 = vec4<f32>(w_gate[w]);
    let g1 = vec4<f32>(w_gate[w + inter4]);
    let g2 = vec4<f32>(w_gate[w + 2u * inter4]);
    let g3 = vec4<f32>(w_gate[w + 3u * inter4]);
    let u0 = vec4<f32>(w_up[w]);
    let u1 = vec4<f32>(w_up[w + inter4]);
    let u2 = vec4<f32>(w_up[w + 2u * inter4]);
    let u3 = vec4<f32>(w_up[w + 3u * inter4]);
    w += 4u * inter4;
    for (var r = 0u; r < RT; r++) {
      let xv = vec4<f32>(rows_in[offsets[r] + h4]);
      acc_gate[r] += xv.x * g0 + xv.y * g1 + xv.z * g2 + xv.w * g3;
      acc_up[r] += xv.x * u0 + xv.y * u1 + xv.z * u2 + xv.w * u3;
    }
  }
  for (var r = 0u; r < tile.y; r++) {
    let g = acc_gate[r];
    act[(tile.x + r) * inter4 + column] = g / (vec4<f32>(1.0) + exp(-g)) * acc_up[r];
  }
}
