import { type MlaProblem, ropeTable, seqLengths, seqStarts } from '../reference/mla.js';
import { sequenceTable } from './attention.js';
import { CANARY, input, lazyInput, memo, SHORT_CANARY, storage } from './build.js';
import type { BuildContext } from './family.js';
import { generateInputs, type MlaInputs } from './mla-inputs.js';
import { isRagged, type MlaSpec } from './mla-spec.js';
import { type RowAddr, type Rows, StageList } from './mla-stages.js';
import type { BufferDecl, Dtype } from './spec.js';

/** A case being built (buffers, stages, inputs) and the stages every form shares: the per-layer path and its helpers. */

/** A case being built: the spec and its sizes, the inputs, the data buffers in declaration order, the stages. */
export interface MlaBuild {
  spec: MlaSpec;
  dtype: Dtype;
  context: BuildContext;
  /** The seeded inputs, made on first read (upload, the check): declaring a case makes no host data. */
  inputs: () => MlaInputs;
  /** Tokens of the step (batch x q_len), a latent cache row (d_c + d_r), a query head's row (d_nope + d_r). */
  T: number;
  row: number;
  qW: number;
  scale: number;
  kvLens: number[];
  /** Rows of the RoPE table the q_len-periodic rows cycle through: q_len, or every new token's in a ragged batch. */
  posSeg: number;
  buffers: BufferDecl[];
  list: StageList;
  /** An activation (or scratch) of the storage type; an input with `data`. */
  act(name: string, length: number, data?: () => Float32Array, role?: BufferDecl['role']): void;
  weights(name: string, length: number, data: () => Float32Array): void;
}

export function startBuild(spec: MlaSpec, dtype: Dtype, context: BuildContext, problem: MlaProblem): MlaBuild {
  const { dims, batch, qLen: S } = spec;
  const kvLens = seqLengths(spec);
  const table = Float32Array.from(ropeTable(problem, dims.dRope));
  const buffers = [
    input('seqs', 'activations', 'u32', sequenceTable(kvLens), SHORT_CANARY),
    input('cos_sin', 'activations', 'f32', table, SHORT_CANARY),
  ];
  return {
    ...{ spec, dtype, context, inputs: memo(() => generateInputs(spec, dtype, context.seed)), buffers, kvLens, scale: problem.scale },
    ...{ T: batch * S, row: dims.dLatent + dims.dRope, qW: dims.dNope + dims.dRope, posSeg: problem.kvLens ? batch * S : S },
    list: new StageList(dtype, spec.tiling, context, context.plans),
    act: (name, length, data, role = 'activations') =>
      buffers.push(data ? lazyInput(name, role, dtype, length, data, CANARY) : storage(name, role, dtype, length, { canary: CANARY })),
    weights: (name, length, data) => buffers.push(lazyInput(name, 'weights', dtype, length, data)),
  };
}

/** The packed latent cache; with layer=full the GPU writes the new tokens' rows (NaN until then). */
export function latentCache({ spec, inputs, row, kvLens }: MlaBuild): Float32Array {
  const latent = Float32Array.from(inputs().latent);
  if (spec.layer !== 'full') return latent;
  seqStarts(spec).forEach((start, b) => {
    const end = start + (kvLens[b] as number);
    if (end > start) latent.fill(NaN, (end - spec.qLen) * row, end * row);
  });
  return latent;
}

/** q_in: the input (layer=attention), or the per-layer path from the hidden states, which also appends the new latent rows. */
export function emitLayerPath(b: MlaBuild): void {
  const { spec, T, row, qW, act, weights, list } = b;
  const { heads: H, dRope, dLatent: dC, dQLatent: dCq, dModel } = spec.dims;
  if (spec.layer !== 'full') {
    act('q_in', T * H * qW, () => b.inputs().qIn!);
    return;
  }
  const lw = () => b.inputs().layerWeights!;
  act('hidden', T * dModel, () => b.inputs().hidden!);
  act('q_in', T * H * qW);
  if (dCq > 0) {
    weights('w_dq', dModel * dCq, () => lw().wDQ!);
    weights('q_norm', dCq, () => lw().qNorm!);
    act('c_q', T * dCq);
    act('c_q_norm', T * dCq);
    list.gemm('q-down', 'q-proj', {
      m: T,
      n: dCq,
      k: dModel,
      z: 1,
      a: ['hidden', { row: dModel }],
      b: ['w_dq', { row: dCq }],
      c: ['c_q', { row: dCq }],
    });
    list.rmsNorm('q-norm', 'q-proj', { m: T, d: dCq, src: ['c_q', { row: dCq }], gain: 'q_norm', dst: ['c_q_norm', { row: dCq }] });
  }
  const [qSrc, qK] = dCq > 0 ? ['c_q_norm', dCq] : ['hidden', dModel];
  weights('w_uq', qK * H * qW, () => lw().wUQ);
  list.gemm('q-up', 'q-proj', {
    m: T,
    n: H * qW,
    k: qK,
    z: 1,
    a: [qSrc, { row: qK }],
    b: ['w_uq', { row: H * qW }],
    c: ['q_in', { row: H * qW }],
  });
  weights('w_dkv', dModel * row, () => lw().wDKV);
  weights('kv_norm', dC, () => lw().kvNorm);
  act('kv_new', T * row);
  list.gemm('kv-down', 'kv-append', {
    m: T,
    n: row,
    k: dModel,
    z: 1,
    a: ['hidden', { row: dModel }],
    b: ['w_dkv', { row }],
    c: ['kv_new', { row }],
  });
  const { context: L, qLen: S } = spec;
  // A ragged batch's new rows go to latent_new first, then to each sequence's slots (appendRagged).
  const staged = spec.form !== 'naive-expanded' && isRagged(spec);
  if (staged) act('latent_new', T * row);
  const dest: Rows =
    spec.form === 'naive-expanded' || staged ? ['latent_new', { row }] : ['latent', { off: (L - S) * row, outer: L * row, row, seg: S }];
  list.rmsNorm('kv-norm', 'kv-append', { m: T, d: dC, src: ['kv_new', { row }], gain: 'kv_norm', dst: dest });
  list.rope('k-rope', 'kv-append', {
    m: T,
    z: 1,
    copy: 0,
    rot: dRope,
    posSeg: b.posSeg,
    src: ['kv_new', { off: dC, row }],
    table: 'cos_sin',
    dst: [dest[0], { ...dest[1], off: (dest[1].off ?? 0) + dC }],
  });
  if (staged) appendRagged(b);
}

/**
 * kv-append of a ragged batch: the new rows (normalised, roped) from latent_new into the packed latent cache, one row
 * copy (mla_rope with no rotation) per run of equal lengths, where each sequence's new tokens are its last q_len.
 */
function appendRagged(b: MlaBuild): void {
  const { row, list, kvLens } = b;
  const S = b.spec.qLen;
  const runs = lengthRuns(kvLens);
  runs.forEach((run, i) =>
    list.rope(`kv-store${runs.length > 1 ? `-${i}` : ''}`, 'kv-append', {
      ...{ m: run.count * S, z: 1, copy: row, rot: 0, posSeg: 1, table: 'cos_sin' },
      src: ['latent_new', { ...(run.seq > 0 ? { off: run.seq * S * row } : {}), row }],
      dst: ['latent', { off: (run.start + run.len - S) * row, outer: run.len * row, row, seg: S }],
    }),
  );
}

/** q_in rows are [token][head][qW]: token m = (b, s) with positions by s. */
export function qInRows({ spec, qW }: MlaBuild, off: number): RowAddr {
  const H = spec.dims.heads;
  return { off, zs: qW, row: H * qW, outer: spec.qLen * H * qW, seg: spec.qLen };
}

/** A run of `count` consecutive sequences of one length `len` > 0 from sequence `seq`, at packed token `start`. */
export interface LengthRun {
  seq: number;
  count: number;
  len: number;
  start: number;
}

/** The batch's sequences as runs of equal length, zero-length ones left out (one run when none differ). */
export function lengthRuns(kvLens: readonly number[]): LengthRun[] {
  const runs: LengthRun[] = [];
  let start = 0;
  kvLens.forEach((len, seq) => {
    const last = runs.at(-1);
    if (len > 0 && last && last.len === len && last.seq + last.count === seq) last.count++;
    else if (len > 0) runs.push({ seq, count: 1, len, start });
    start += len;
  });
  return runs;
}

/** Tokens a cache holds (at least 1, so that a batch of empty sequences still declares its buffers). */
export function cachedTokens(kvLens: readonly number[]): number {
  return Math.max(
    1,
    kvLens.reduce((a, n) => a + n, 0),
  );
}
