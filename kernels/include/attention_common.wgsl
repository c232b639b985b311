// The attention core's attend kernels (attention_decode, attention_prefill, attention_rows,
// attention_rows_subgroup, attention_columns): head dims, the params uniform, bindings 0-4 (each kernel binds
// its outputs from 5), the KV cache's addressing and the causal row limit.
//
// Layouts (elements; T is the storage type, f32 or f16; accumulation is always f32). Rows of q, k and v are
// DQ4 / V_STRIDE4 vec4s long (head dims rounded up to a multiple of 4, zero padded):
//   q   [batch][q_len][n_q][DQ4 * 4]
// and the cache, contiguous (PAGE = 0):
//   k   [batch][n_kv][token][DQ4 * 4]        sequence b: seqs[2b] tokens from token offset seqs[2b+1] (ragged, packed)
//   v   [batch][n_kv][token][V_STRIDE4 * 4]  the first D_V elements of each row
// or paged (PAGE tokens a page): k and v are pools of pages [n_kv][PAGE][row] (src/kernels/kv-pages.ts), page p in
// pool p / pool_pages at page p % pool_pages there; sequence b's block-table row starts at seqs[seqs[2b+1]] (in
// the same buffer). The host declares the pools and their accessors k_at(pool, i) / v_at(pool, i) (one pool: the
// binding itself). A token's pool is a per-page choice: uniform across a workgroup whose token tile lies in one page.
// The query rows of a KV head are row = s * group + g (query position s, the g-th query head reading the KV
// head); with causal, the q_len queries are the last q_len positions of their sequence.
override D_QK: u32 = 128;
override D_V: u32 = 128;
override DQ4: u32 = (D_QK + 3u) / 4u;
override DV4: u32 = (D_V + 3u) / 4u;
// Row stride of v in vec4s: DV4, or wider when v is a prefix of each K row (MLA's latent cache serves as both).
override V_STRIDE4: u32 = DV4;
// Tokens per KV page; 0: the contiguous layout (PAGE_DIV keeps the folded-away paged branch free of a division by 0).
override PAGE: u32 = 0u;
override PAGE_DIV: u32 = max(PAGE, 1u);

const NEG: f32 = -1.0e30;

struct Params {
  n_q: u32,
  n_kv: u32,
  q_len: u32,
  group: u32,       // n_q / n_kv
  rows: u32,        // q_len * group: query rows per KV head
  row_blocks: u32,  // blocks of query rows per KV head (of a workgroup's or an invocation's rows)
  chunk: u32,       // tokens per split
  n_splits: u32,
  causal: u32,
  scale_log2: f32,  // softmax scale * log2(e)
  dq4: u32,         // DQ4 and DV4 at run time: loop bounds the compiler keeps as loops (compact code on CPU adapters)
  dv4: u32,
  batch: u32,
  pool_pages: u32,  // paged: pages per k / v pool buffer
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> seqs: array<u32>;
@group(0) @binding(2) var<storage, read> q: array<vec4<T>>;
@group(0) @binding(3) var<storage, read> k: array<vec4<T>>;
@group(0) @binding(4) var<storage, read> v: array<vec4<T>>;

// The cache rows of one (sequence, KV head): contiguous from row `base`, or paged through the block table from
// entry `base` of seqs.
struct KvHead {
  base: u32,
  kvh: u32,
}

// Where a token's K (V) row is: its pool and its row there (times DQ4 / V_STRIDE4: the first vec4).
struct KvRow {
  pool: u32,
  row: u32,
}

fn kv_head(b: u32, kvh: u32, kv_len: u32) -> KvHead {
  let off = seqs[2u * b + 1u];
  return KvHead(select(off * params.n_kv + kvh * kv_len, off, PAGE != 0u), kvh);
}

fn kv_row(h: KvHead, t: u32) -> KvRow {
  if (PAGE == 0u) {
    return KvRow(0u, h.base + t);
  }
  let page = seqs[h.base + t / PAGE_DIV];
  let pool = page / params.pool_pages;
  return KvRow(pool, ((page - pool * params.pool_pages) * params.n_kv + h.kvh) * PAGE_DIV + t % PAGE_DIV);
}

// Tokens a row of this KV head may see: all of them, or with causal those up to its position.
fn row_limit(row: u32, kv_len: u32) -> u32 {
  if (params.causal == 0u) { return kv_len; }
  let reach = kv_len + row / params.group + 1u;
  return select(0u, min(kv_len, reach - params.q_len), reach > params.q_len);
}

// The row block (of params.row_blocks) that workgroup x of a KV head computes. Causal blocks further down the
// sequence see more tokens, so blocks go longest and shortest in turn (n-1, 0, n-2, 1, ...): every run of
// consecutive workgroups holds pairs of about equal work, whether a GPU hands workgroups out as its cores free up
// or a CPU adapter deals each thread one contiguous range of the grid (llvmpipe), where longest-first left the
// first thread every long block.
fn causal_block(x: u32) -> u32 {
  let half = x / 2u;
  return select(params.row_blocks - 1u - half, half, (x & 1u) == 1u);
}

// The output row [batch][q_len][n_q] of query row `row` of KV head kvh in sequence b.
fn out_row_of(b: u32, kvh: u32, row: u32) -> u32 {
  return (b * params.q_len + row / params.group) * params.n_q + kvh * params.group + row % params.group;
}

