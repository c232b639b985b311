// The split-KV grid of the rows tiling's kernels (attention_rows, attention_rows_subgroup, attention_columns;
// after attention_common.wgsl). A cell of it, whose flat index runs over row blocks (fastest), splits, KV heads
// and sequences: sequence b, KV head kvh, split, row block, the sequence's length, where the KV head's rows are
// (kv_head), and the split's tokens [t_begin, t_end). live: false past the last sequence.
struct Cell {
  b: u32,
  kvh: u32,
  split: u32,
  row_block: u32,
  kv_len: u32,
  head: KvHead,
  t_begin: u32,
  t_end: u32,
  live: bool,
}

fn cell_of(flat: u32) -> Cell {
  let row_block = flat % params.row_blocks;
  var rest = flat / params.row_blocks;
  let split = rest % params.n_splits;
  rest = rest / params.n_splits;
  let kvh = rest % params.n_kv;
  let b = rest / params.n_kv;
  if (b >= params.batch) {
    return Cell(b, kvh, split, row_block, 0u, KvHead(0u, 0u), 0u, 0u, false);
  }
  let kv_len = seqs[2u * b];
  let t_begin = split * params.chunk;
  return Cell(b, kvh, split, row_block, kv_len, kv_head(b, kvh, kv_len), t_begin, min(t_begin + params.chunk, kv_len), true);
}

// Four tokens' rows at once (the rows kernels walk tokens four at a time).
struct KvRows4 {
  pool: vec4<u32>,
  row: vec4<u32>,
}

fn kv_rows4(h: KvHead, t: vec4<u32>) -> KvRows4 {
  if (PAGE == 0u) {
    return KvRows4(vec4<u32>(0u), vec4<u32>(h.base) + t);
  }
  let a = kv_row(h, t.x);
  let b = kv_row(h, t.y);
  let c = kv_row(h, t.z);
  let d = kv_row(h, t.w);
  return KvRows4(vec4<u32>(a.pool, b.pool, c.pool, d.pool), vec4<u32>(a.row, b.row, c.row, d.row));
}
