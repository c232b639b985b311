// The expert FFN kernels' common part (moe_gate_up.wgsl, moe_down.wgsl): the FFN uniform, the padded layout's
// bindings (2-5; each kernel binds its input rows at 1 and its weights and output from 6), and which rows and
// expert a tile of RT rows covers in each MODE.
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
@group(0) @binding(2) var<storage, read> block_expert: array<u32>;
@group(0) @binding(3) var<storage, read> starts: array<u32>;
@group(0) @binding(4) var<storage, read> counts: array<u32>;
@group(0) @binding(5) var<storage, read> total: array<u32>;

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

// An invocation's work: its workgroup's tile (grid y and z), the tile's first row, valid rows and expert, and the
// invocation's vec4 column (grid x, WG per workgroup) of `columns4`; no rows past the last column.
struct Job {
  first: u32,
  rows: u32,
  expert: u32,
  column: u32,
}

fn job_of(wid: vec3<u32>, lid: u32, groups: vec3<u32>, columns4: u32) -> Job {
  let tile = tile_rows(wid.y + wid.z * groups.y);
  let column = wid.x * WG + lid;
  return Job(tile.x, select(tile.y, 0u, column >= columns4), tile.z, column);
}

// Where a job's RT input rows (of width4 vec4s) start; rows past its valid ones repeat the last (in bounds).
fn row_offsets(job: Job, width4: u32) -> array<u32, RT> {
  var offsets: array<u32, RT>;
  for (var r = 0u; r < RT; r++) {
    offsets[r] = (job.first + min(r, job.rows - 1u)) * width4;
  }
  return offsets;
}
