// The attention core's attend kernels (attention_decode, attention_prefill, attention_rows,
// attention_rows_subgroup, attention_columns): head dims, the params uniform, bindings 0-4 (each kernel binds
// its outputs from 5) and the causal row limit.
//
// Layouts (elements; T is the storage type, f32 or f16; accumulation is always f32). Rows of q, k and v are
// DQ4 / V_STRIDE4 vec4s long (head dims rounded up to a multiple of 4, zero padded):
//   q   [batch][q_len][n_q][DQ4 * 4]
//   k   [batch][n_kv][token][DQ4 * 4]        sequence b: seqs[2b] tokens from token offset seqs[2b+1] (ragged, packed)
//   v   [batch][n_kv][token][V_STRIDE4 * 4]  the first D_V elements of each row
// The query rows of a KV head are row = s * group + g (query position s, the g-th query head reading the KV
// head); with causal, the q_len queries are the last q_len positions of their sequence.
override D_QK: u32 = 128;
override D_V: u32 = 128;
override DQ4: u32 = (D_QK + 3u) / 4u;
override DV4: u32 = (D_V + 3u) / 4u;
// Row stride of v in vec4s: DV4, or wider when v is a prefix of each K row (MLA's latent cache serves as both).
override V_STRIDE4: u32 = DV4;

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
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> seqs: array<u32>;
@group(0) @binding(2) var<storage, read> q: array<vec4<T>>;
@group(0) @binding(3) var<storage, read> k: array<vec4<T>>;
@group(0) @binding(4) var<storage, read> v: array<vec4<T>>;

// Tokens a row of this KV head may see: all of them, or with causal those up to its position.
fn row_limit(row: u32, kv_len: u32) -> u32 {
  if (params.causal == 0u) { return kv_len; }
  let reach = kv_len + row / params.group + 1u;
  return select(0u, min(kv_len, reach - params.q_len), reach > params.q_len);
}

// The output row [batch][q_len][n_q] of query row `row` of KV head kvh in sequence b.
fn out_row_of(b: u32, kvh: u32, row: u32) -> u32 {
  return (b * params.q_len + row / params.group) * params.n_q + kvh * params.group + row % params.group;
}

