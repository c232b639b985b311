// The split-KV grid of the rows tiling's kernels (attention_rows, attention_rows_subgroup, attention_columns;
// after attention_common.wgsl). A cell of it, whose flat index runs over row blocks (fastest), splits, KV heads
// and sequences: sequence b, KV head kvh, split, row block, the sequence's length, the first
// row of the KV head's K/V slab, and the split's tokens [t_begin, t_end). live: false past the last sequence.
struct Cell {
  b: u32,
  kvh: u32,
  split: u32,
  row_block: u32,
  kv_len: u32,
  head_row: u32,
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
    return Cell(b, kvh, split, row_block, 0u, 0u, 0u, 0u, false);
  }
  let kv_len = seqs[2u * b];
  let t_begin = split * params.chunk;
  let head_row = seqs[2u * b + 1u] * params.n_kv + kvh * kv_len;
  return Cell(b, kvh, split, row_block, kv_len, head_row, t_begin, min(t_begin + params.chunk, kv_len), true);
}
