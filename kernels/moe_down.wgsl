// MoE expert FFN, part 2 (src/kernels/moe.ts): out = act down for tiles of RT rows; one invocation per (tile,
// vec4 column of the hidden dim), walking the intermediate four at a time with RT vec4 accumulators.
// Weights [expert][inter][hidden] (hidden fastest).
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
@group(0) @binding(1) var<storage, read> act: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> block_expert: array<u32>;
@group(0) @binding(3) var<storage, read> starts: array<u32>;
@group(0) @binding(4) var<storage, read> counts: array<u32>;
@group(0) @binding(5) var<storage, read> total: array<u32>;
@group(0) @binding(6) var<storage, read> w_down: array<vec4<T>>;
@group(0) @binding(7) var<storage, read_write> out: array<vec4<T>>;

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
  let hidden4 = f.hidden / 4u;
  let column = wid.x * WG + lid;
  if (tile.y == 0u || column >= hidden4) {
    return;
  }
  let inter4 = f.inter / 4u;
  var offsets: array<u32, RT>;
  for (var r = 0u; r < RT; r++) {
    offsets[r] = (tile.x + min(r, tile.y - 1u)) * inter4;
  }
  var acc: array<vec4<f32>, RT>;
  var w = tile.z * f.inter * hidden4 + column;
  for (var i4 = 0u; i4 < inter4; i4++) {
    let d0 = vec4<f32>(w_down[w]);
    let d1 = vec4<f32>(w_down[w + hidden4]);
    let d2 = vec4<f32>(w_down[w + 2u * hidden4]);
    let d3 = vec4<f32>(w_down[w + 3u * hidden4]);
    w += 4u * hidden4;
    for (var r = 0u; r < RT; r++) {
      let a = act[offsets[r] + i4];
      acc[r] += a.x * d0 + a.y * d1 + a.z * d2 + a.w * d3;
    }
  }
  for (var r = 0u; r < tile.y; r++) {
    out[(tile.x + r) * hidden4 + column] = vec4<T>(acc[r]);
  }
}
