import { struct, type Fields, type StructLayout } from './uniforms.js';

/**
 * The WGSL files under kernels/ that the families dispatch, each with the struct of the uniform it binds: the one
 * place the host side of a shader's uniform is declared (test/unit/uniform-layouts.test.ts holds every entry to
 * the WGSL struct, includes spliced, and every shader with a uniform to an entry).
 */
export interface Shader<F extends Fields = Fields> {
  /** File name under kernels/ (StageDecl.shader). */
  readonly file: string;
  /** The struct its `var<uniform>` has. */
  readonly params: StructLayout<F>;
}

function shader<F extends Fields>(file: string, params: StructLayout<F>): Shader<F> {
  return { file, params };
}

/** kernels/include/attention_common.wgsl: the one Params of every attend kernel. */
const ATTENTION_PARAMS = struct('Params', {
  n_q: 'u32',
  n_kv: 'u32',
  q_len: 'u32',
  group: 'u32',
  rows: 'u32',
  row_blocks: 'u32',
  chunk: 'u32',
  n_splits: 'u32',
  causal: 'u32',
  scale_log2: 'f32',
  dq4: 'u32',
  dv4: 'u32',
  batch: 'u32',
  pool_pages: 'u32',
});

/** kernels/include/mla_addr.wgsl: rows (z, m) at off + z zs + (m / seg) outer + (m % seg) row. */
const ADDR = struct('Addr', { off: 'u32', zs: 'u32', outer: 'u32', row: 'u32', seg: 'u32', _p0: 'u32', _p1: 'u32', _p2: 'u32' });

/** kernels/include/moe_route_params.wgsl */
const MOE_ROUTE = struct('Params', {
  tokens: 'u32',
  hidden: 'u32',
  experts: 'u32',
  top_k: 'u32',
  n_group: 'u32',
  topk_group: 'u32',
  route_scale: 'f32',
  _pad: 'u32',
});

/** kernels/include/moe_align_params.wgsl */
const MOE_ALIGN = struct('Params', {
  pairs: 'u32',
  experts: 'u32',
  block: 'u32',
  chunk: 'u32',
  chunks: 'u32',
  capacity: 'u32',
  top_k: 'u32',
  hidden4: 'u32',
});

const STREAM = struct('Params', { count: 'u32', threads: 'u32' });

/**
 * The GEMM family's kernels (src/kernels/gemm/): sizes, the grid, the three operands' row addressing, in elements,
 * and the extensions' fields (the SwiGLU pair offset; grouped rows' block, B stride per group and padding sentinel).
 */
const GEMM_PARAMS = struct('Params', {
  m: 'u32',
  n: 'u32',
  k: 'u32',
  n4: 'u32',
  k4: 'u32',
  col_blocks: 'u32',
  row_blocks: 'u32',
  batch: 'u32',
  a: ADDR,
  b: ADDR,
  c: ADDR,
  pair: 'u32',
  block: 'u32',
  group_stride: 'u32',
  sentinel: 'u32',
});

export const SHADERS = {
  attentionDecode: shader('attention_decode.wgsl', ATTENTION_PARAMS),
  attentionPrefill: shader('attention_prefill.wgsl', ATTENTION_PARAMS),
  attentionFlash: shader('attention_flash.wgsl', ATTENTION_PARAMS),
  attentionRows: shader('attention_rows.wgsl', ATTENTION_PARAMS),
  attentionRowsSubgroup: shader('attention_rows_subgroup.wgsl', ATTENTION_PARAMS),
  attentionColumns: shader('attention_columns.wgsl', ATTENTION_PARAMS),
  attentionReduce: shader('attention_reduce.wgsl', struct('Params', { rows: 'u32', n_splits: 'u32' })),
  mlaGemm: shader(
    'mla_gemm.wgsl',
    struct('Params', {
      m: 'u32',
      n4: 'u32',
      k4: 'u32',
      n_blocks: 'u32',
      row_blocks: 'u32',
      _p0: 'u32',
      _p1: 'u32',
      _p2: 'u32',
      a: ADDR,
      b: ADDR,
      c: ADDR,
    }),
  ),
  gemmTiled: shader('gemm_tiled.wgsl', GEMM_PARAMS),
  gemmSubgroup: shader('gemm_subgroup.wgsl', GEMM_PARAMS),
  gemv: shader('gemv.wgsl', GEMM_PARAMS),
  mlaRope: shader(
    'mla_rope.wgsl',
    struct('Params', {
      m: 'u32',
      z: 'u32',
      copy: 'u32',
      rot: 'u32',
      pos_seg: 'u32',
      _p0: 'u32',
      _p1: 'u32',
      _p2: 'u32',
      src: ADDR,
      dst: ADDR,
    }),
  ),
  mlaRmsNorm: shader(
    'mla_rmsnorm.wgsl',
    struct('Params', { m: 'u32', d: 'u32', eps: 'f32', _p0: 'u32', _p1: 'u32', _p2: 'u32', _p3: 'u32', _p4: 'u32', src: ADDR, dst: ADDR }),
  ),
  kvGather: shader('kv_gather.wgsl', struct('Params', { batch: 'u32', max_pages: 'u32', row4: 'u32', pool_pages: 'u32' })),
  moeLogits: shader('moe_logits.wgsl', MOE_ROUTE),
  moeSelect: shader('moe_select.wgsl', MOE_ROUTE),
  moeCount: shader('moe_count.wgsl', MOE_ALIGN),
  moeScan: shader('moe_scan.wgsl', MOE_ALIGN),
  moeScatter: shader('moe_scatter.wgsl', MOE_ALIGN),
  moeGather: shader('moe_gather.wgsl', MOE_ALIGN),
  moeCombine: shader('moe_combine.wgsl', struct('Params', { tokens: 'u32', hidden4: 'u32', top_k: 'u32', _pad: 'u32' })),
  copy: shader('copy.wgsl', STREAM),
  read: shader('read.wgsl', STREAM),
  fma: shader('fma.wgsl', struct('Params', { threads: 'u32', iterations: 'u32' })),
  dispatch: shader('dispatch.wgsl', struct('Params', { base: 'f32' })),
} as const;

export type AttendShader = (typeof SHADERS)[
  'attentionDecode' | 'attentionPrefill' | 'attentionFlash' | 'attentionRows' | 'attentionRowsSubgroup' | 'attentionColumns'];

export const SHADER_LIST: readonly Shader[] = Object.values(SHADERS);
