import type { Measurement } from '../results/schema.js';
import { splitAxes, titleWithConstants, varyingCells, type Params } from './axes.js';
import { formatDuration, formatRateValue } from './format.js';
import { right, left, type TableModel } from './table-model.js';

/**
 * Paged absorbed MLA decode by FlashMLA's own formulas (the case's facts flashMlaFlops / flashMlaBytes, from its
 * tests/test_flash_mla.py) over the phases FlashMLA's kernel does (attend: the split-KV pass, reduce: its combine),
 * so a device's figures stand beside FlashMLA's published ones (H800: up to 3000 GB/s, 660 TFLOP/s). FlashInfer's
 * benchmarks/bench_deepseek_mla.py counts the same FLOPs and bytes at s_q 1, so its grid's rows read alike.
 */
export interface FlashMlaRow {
  params: Params;
  ms: number;
  /** Which time the rates are over: attend + reduce where the stages were timed, else end to end. */
  timed: 'attend + reduce' | 'end to end';
  gbps: number;
  tflops: number;
}

export function flashMlaRows(cases: readonly Measurement[]): FlashMlaRow[] {
  const rows: FlashMlaRow[] = [];
  for (const c of cases) {
    if (c.status !== 'ok' || c.family !== 'mla') continue;
    const [bytes, flops, page] = [c.facts?.['flashMlaBytes'], c.facts?.['flashMlaFlops'], c.facts?.['pageSize']];
    if (typeof bytes !== 'number' || typeof flops !== 'number' || typeof page !== 'number') continue;
    const phases = (c.stages ?? []).filter((s) => s.name === 'attend' || s.name === 'reduce');
    const staged = phases.length === 2;
    const ms = staged ? phases.reduce((sum, s) => sum + s.gpu.median, 0) : c.timing.gpu.median;
    rows.push({ params: c.params, ms, timed: staged ? 'attend + reduce' : 'end to end', gbps: bytes / ms / 1e6, tflops: flops / ms / 1e9 });
  }
  return rows;
}

export function flashMlaTable(rows: readonly FlashMlaRow[]): TableModel {
  const split = splitAxes(rows.map((r) => r.params));
  return {
    title: titleWithConstants("Paged absorbed MLA decode by FlashMLA's formulas", split),
    columns: [...split.varying.map(left), right('time'), left('timed'), right('GB/s'), right('TFLOP/s')],
    rows: rows.map((r) => [
      ...varyingCells(r.params, split),
      formatDuration(r.ms),
      r.timed,
      formatRateValue(r.gbps),
      formatRateValue(r.tflops),
    ]),
    keyColumns: split.varying.length,
    notes: [
      "FlashMLA's FLOPs (2 x s_q x total_seqlens x h_q x (576 + 512)) and bytes (the latent cache once, q and the output) over the attend and reduce phases (FlashMLA's split-KV kernel and its combine), as its benchmark counts them; FlashMLA on an H800: up to 3000 GB/s memory-bound, 660 TFLOP/s compute-bound.",
      "FlashInfer's MLA benchmark (page_size 1: its grid of seq 1K-8K x batch 64-768 x h 64 (deepseek-v3-tp2) and 128) counts the same: FLOPs 2 x b x h x (2 x 512 + 64) x s, bytes q_nope + q_pe + ckv + kpe + o.",
    ],
  };
}
