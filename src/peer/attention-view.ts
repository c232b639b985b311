import type { Dtype, KernelCase, OutputCheck } from '../kernels/spec.js';

/**
 * An attention case as a peer sees it: shapes, the unpadded inputs the GPU saw (already rounded to the storage
 * type) and the case's own float64 check. Read from the built KernelCase (its facts and its q / k / v / seqs
 * buffers, see src/kernels/attention.ts), so a peer runs on exactly the case's data.
 */
export interface AttentionView {
  phase: 'decode' | 'prefill';
  dtype: Dtype;
  batch: number;
  nQ: number;
  nKv: number;
  dQk: number;
  dV: number;
  /** New query tokens per sequence: the last qLen of the kvLen cached ones. */
  qLen: number;
  /** Cached tokens per sequence (every sequence alike; ragged batches are not viewed). */
  kvLen: number;
  causal: boolean;
  scale: number;
  /** [batch][q_len][n_q][d_qk] */
  q: Float32Array;
  /** [batch][n_kv][token][d_qk] */
  k: Float32Array;
  /** [batch][n_kv][token][d_v] */
  v: Float32Array;
  check: OutputCheck;
}

export type ViewResult = { kind: 'view'; view: AttentionView } | { kind: 'unsupported'; reason: string };

function fact(kernelCase: KernelCase, name: string): number | string | undefined {
  return kernelCase.facts?.[name];
}

function numberFact(kernelCase: KernelCase, name: string): number {
  const value = fact(kernelCase, name);
  if (typeof value !== 'number') throw new Error(`attention case has no numeric fact ${name}`);
  return value;
}

/** Rows of `dim` values out of rows stored `stride` apart (the kernels pad rows to whole vec4s). */
function unpadRows(data: ArrayLike<number>, rows: number, dim: number, stride: number): Float32Array {
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) for (let i = 0; i < dim; i++) out[r * dim + i] = data[r * stride + i] as number;
  return out;
}

export function attentionView(kernelCase: KernelCase): ViewResult {
  const phase = fact(kernelCase, 'phase');
  if (phase !== 'decode' && phase !== 'prefill') return { kind: 'unsupported', reason: 'not an attention case' };
  if (kernelCase.facts?.['pageSize'] !== undefined)
    return { kind: 'unsupported', reason: 'a paged KV cache (the peers read a contiguous one)' };
  const buffer = (name: string) => kernelCase.buffers.find((b) => b.name === name);
  const [q, k, v, seqs] = ['q', 'k', 'v', 'seqs'].map(buffer);
  const check = kernelCase.checks.find((c) => c.buffer === 'out');
  if (!q?.data || !k?.data || !v?.data || !seqs?.data || !check)
    return { kind: 'unsupported', reason: 'attention case without q / k / v / seqs inputs' };
  const batch = seqs.data.length / 2;
  const kvLens = Array.from({ length: batch }, (_, b) => seqs.data![2 * b] as number);
  const kvLen = kvLens[0] as number;
  if (kvLens.some((len) => len !== kvLen))
    return { kind: 'unsupported', reason: 'ragged KV lengths (GroupQueryAttention could take them as seqlens_k; not wired)' };
  const [nQ, nKv, dQk, dV, qLen] = ['nQ', 'nKv', 'dQk', 'dV', 'qLen'].map((name) => numberFact(kernelCase, name)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const dtype = kernelCase.stages[0]?.dtype ?? 'f32';
  const pad = (d: number): number => Math.ceil(d / 4) * 4;
  return {
    kind: 'view',
    view: {
      phase,
      dtype,
      batch,
      nQ,
      nKv,
      dQk,
      dV,
      qLen,
      kvLen,
      causal: fact(kernelCase, 'causal') !== 0,
      // The attention family always uses the default scale (AttentionShape.scale unset).
      scale: 1 / Math.sqrt(dQk),
      q: unpadRows(q.data, batch * qLen * nQ, dQk, pad(dQk)),
      k: unpadRows(k.data, batch * nKv * kvLen, dQk, pad(dQk)),
      v: unpadRows(v.data, batch * nKv * kvLen, dV, pad(dV)),
      check,
    },
  };
}
