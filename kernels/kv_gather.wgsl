// Gathers a paged cache of one KV head (MLA's latent: c_KV and the roped k_rope in one row) into a contiguous
// workspace in the packed layout, ahead of a stage that reads the rows contiguously: vLLM's gather_cache before
// naive MLA's up-projection. One workgroup per (sequence, logical page): the page's valid rows (a last, partial
// page stops at the sequence's length; a sequence with no token copies nothing), so free pages and the slots past a
// sequence are never read.
//
// seqs: per sequence (kv length, its first row in the packed workspace); pages: the block table [batch][max_pages].
// The cache is a pool of pages [PAGE][row] over several buffers (src/kernels/kv-pages.ts): page p in pool
// p / pool_pages at page p % pool_pages there, read through the host's accessor cache_at(pool, i). The pool is
// one choice per workgroup.
override WG: u32 = 64;
override PAGE: u32 = 16;

struct Params {
  batch: u32,
  max_pages: u32,
  row4: u32,       // vec4s per row (cache and workspace alike)
  pool_pages: u32, // pages per cache pool buffer
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> seqs: array<u32>;
@group(0) @binding(2) var<storage, read> pages: array<u32>;
@group(0) @binding(3) var<storage, read> cache: array<vec4<T>>;
@group(0) @binding(4) var<storage, read_write> dst: array<vec4<T>>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let id = wg.x + wg.y * groups.x;
  if (id >= params.batch * params.max_pages) {
    return;
  }
  let b = id / params.max_pages;
  let first = (id % params.max_pages) * PAGE;
  let len = seqs[2u * b];
  if (first >= len) {
    return;
  }
  let count = min(PAGE, len - first) * params.row4;
  let page = pages[id];
  let pool = page / params.pool_pages;
  let src = (page - pool * params.pool_pages) * PAGE * params.row4;
  let out = (seqs[2u * b + 1u] + first) * params.row4;
  for (var i = lid; i < count; i += WG) {
    dst[out + i] = cache_at(pool, src + i);
  }
}
