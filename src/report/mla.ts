import type { Measurement, OkMeasurement } from '../results/schema.js';
import { passedCases } from './data.js';
import { formatBytes, formatDuration, formatPercent } from './format.js';
import { left, type TableModel } from './table-model.js';

/**
 * MLA summaries from results only: the KV-cache capacity table (per-token cache bytes per layer and per
 * model, measured from each case's kv-cache buffers, beside DeepSeek-V2 Table 1's formulas, and the longest
 * context that fits a memory budget), the naive-vs-absorbed crossover query length, and the decode speedups.
 */

export const DEFAULT_MEMORY_BUDGET_GB = 80;

export interface KvCapacityRow {
  preset: string;
  form: string;
  dtype: string;
  layers: number;
  /** Table 1 formula, elements per token per layer. */
  formulaElements: number;
  formulaBytes: number;
  /** From the case's kv-cache buffers (valid elements). */
  measuredBytes: number;
  /** From the allocator's peak kv-cache bytes (canary padding included), per cached token. */
  allocatedBytes: number | null;
  perModelBytes: number;
  /** Longest context (tokens of one sequence) whose cache fits the budget. */
  maxContext: number;
  matchesFormula: boolean;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function mlaCases(cases: readonly Measurement[]): OkMeasurement[] {
  return cases.filter((c): c is OkMeasurement => c.status === 'ok' && c.family === 'mla');
}

export function kvCapacityRows(cases: readonly Measurement[], budgetBytes: number, suite = 'kv-cache'): KvCapacityRow[] {
  const rows = new Map<string, KvCapacityRow>();
  // Timed or not: the capacity table reads allocations only.
  for (const c of passedCases(cases).filter((m) => m.family === 'mla')) {
    if (c.suite !== suite) continue;
    const facts = c.facts ?? {};
    const measured = num(facts['kvBytesPerToken']);
    const elements = num(facts['kvElementsPerToken']);
    const layers = num(facts['layers']);
    const tokens = num(facts['cachedTokens']);
    if (measured === null || elements === null || layers === null) continue;
    const preset = String(facts['preset'] ?? c.params['preset']);
    const form = String(facts['form'] ?? c.params['form']);
    const key = `${preset}/${form}/${c.dtype}`;
    if (rows.has(key)) continue;
    const elem = c.dtype === 'f16' ? 2 : 4;
    const perModel = measured * layers;
    const allocated = c.memory.peakByRole['kv-cache'];
    rows.set(key, {
      preset,
      form,
      dtype: c.dtype,
      layers,
      formulaElements: elements,
      formulaBytes: elements * elem,
      measuredBytes: measured,
      allocatedBytes: tokens ? allocated / tokens : null,
      perModelBytes: perModel,
      maxContext: Math.floor(budgetBytes / perModel),
      matchesFormula: measured === elements * elem,
    });
  }
  return [...rows.values()];
}

export interface CrossoverPoint {
  qLen: number;
  naiveMs: number;
  absorbedMs: number;
}

export interface Crossover {
  /** preset, batch, context, dtype, tiling of the series. */
  group: string;
  points: CrossoverPoint[];
  /** Smallest query length from which naive-latent is faster than absorbed at every measured length; null if never. */
  crossoverQLen: number | null;
}

function groupKey(c: OkMeasurement, drop: string[]): string {
  return Object.entries(c.params)
    .filter(([name]) => !drop.includes(name))
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
}

/** The query length where the naive form (decompress once, attend at 192/128) starts to beat the absorbed one. */
export function crossovers(cases: readonly Measurement[]): Crossover[] {
  const groups = new Map<string, Map<number, { naive?: number; absorbed?: number }>>();
  for (const c of mlaCases(cases)) {
    const form = c.params['form'];
    const qLen = num(c.params['q_len']);
    if (qLen === null || (form !== 'naive-latent' && form !== 'absorbed')) continue;
    const key = groupKey(c, ['form', 'q_len']);
    const series = groups.get(key) ?? new Map();
    groups.set(key, series);
    const point = series.get(qLen) ?? {};
    point[form === 'absorbed' ? 'absorbed' : 'naive'] = c.timing.gpu.median;
    series.set(qLen, point);
  }
  const result: Crossover[] = [];
  for (const [group, series] of groups) {
    const points = [...series.entries()]
      .filter((entry): entry is [number, { naive: number; absorbed: number }] => entry[1].naive !== undefined && entry[1].absorbed !== undefined)
      .map(([qLen, p]) => ({ qLen, naiveMs: p.naive, absorbedMs: p.absorbed }))
      .sort((a, b) => a.qLen - b.qLen);
    if (points.length < 2) continue;
    let crossoverQLen: number | null = null;
    for (let i = points.length - 1; i >= 0 && points[i]!.naiveMs < points[i]!.absorbedMs; i--) crossoverQLen = points[i]!.qLen;
    result.push({ group, points, crossoverQLen });
  }
  return result;
}

export interface DecodeComparison {
  group: string;
  absorbedMs: number;
  naiveLatentMs: number | null;
  naiveExpandedMs: number | null;
  mhaMs: number | null;
  /** Absorbed's achieved fraction of the calibrated f32 FMA ceiling (its arithmetic is f32 at either storage dtype). */
  absorbedComputeFraction: number | null;
}

/** Absorbed decode against naive MLA and MHA at the same heads and head dim, per shape. */
export function decodeComparisons(cases: readonly Measurement[], suite = 'mla-decode'): DecodeComparison[] {
  const groups = new Map<string, Map<string, OkMeasurement>>();
  for (const c of mlaCases(cases)) {
    if (c.suite !== suite) continue;
    const key = groupKey(c, ['form']);
    const forms = groups.get(key) ?? new Map();
    groups.set(key, forms);
    forms.set(String(c.params['form']), c);
  }
  const out: DecodeComparison[] = [];
  for (const [group, forms] of groups) {
    const absorbed = forms.get('absorbed');
    if (!absorbed) continue;
    const ms = (form: string): number | null => forms.get(form)?.timing.gpu.median ?? null;
    out.push({
      group,
      absorbedMs: absorbed.timing.gpu.median,
      naiveLatentMs: ms('naive-latent'),
      naiveExpandedMs: ms('naive-expanded'),
      mhaMs: ms('mha'),
      absorbedComputeFraction: absorbed.rates.computeFraction,
    });
  }
  return out;
}

// Two decimals below 10x: a 2% win over MHA must not read as a tie.
const ratio = (a: number | null, b: number): string => (a === null ? '-' : `${(a / b).toFixed(a / b < 10 ? 2 : 1)}x`);

/** The decode comparison, each crossover series and the KV capacity table: none where the cases lack the data. */
export function mlaTables(cases: readonly Measurement[], budgetGB = DEFAULT_MEMORY_BUDGET_GB): TableModel[] {
  const out: TableModel[] = [];
  const decode = decodeComparisons(cases);
  if (decode.length) {
    out.push({
      title: 'MLA decode: absorbed against naive MLA and MHA (same heads, head dim)',
      columns: [left('shape'), left('absorbed'), left('naive-latent / absorbed'), left('naive-expanded / absorbed'), left('MHA / absorbed'), left('absorbed % f32 FMA')],
      rows: decode.map((d) => [
        d.group,
        formatDuration(d.absorbedMs),
        ratio(d.naiveLatentMs, d.absorbedMs),
        ratio(d.naiveExpandedMs, d.absorbedMs),
        ratio(d.mhaMs, d.absorbedMs),
        formatPercent(d.absorbedComputeFraction),
      ]),
    });
  }
  for (const c of crossovers(cases)) {
    out.push({
      title: `MLA crossover (${c.group}): naive-latent beats absorbed from q_len ${c.crossoverQLen ?? 'never (in the measured range)'}`,
      columns: [left('q_len'), left('naive-latent'), left('absorbed'), left('naive / absorbed')],
      rows: c.points.map((p) => [String(p.qLen), formatDuration(p.naiveMs), formatDuration(p.absorbedMs), (p.naiveMs / p.absorbedMs).toFixed(2)]),
    });
  }
  const budget = budgetGB * 1e9;
  const kv = kvCapacityRows(cases, budget);
  if (kv.length) {
    out.push({
      title: `KV cache per token (DeepSeek-V2 Table 1) and the longest context in ${budgetGB} GB`,
      columns: [left('preset'), left('form'), left('dtype'), left('elements/token/layer (formula)'), left('bytes/token/layer (formula)'), left('bytes/token/layer (measured)'), left('allocated (with canaries)'), left('layers'), left('bytes/token/model'), left('max context')],
      rows: kv.map((r) => [
        r.preset,
        r.form,
        r.dtype,
        String(r.formulaElements),
        String(r.formulaBytes),
        `${r.measuredBytes}${r.matchesFormula ? '' : ' (!= formula)'}`,
        r.allocatedBytes === null ? '-' : r.allocatedBytes.toFixed(1),
        String(r.layers),
        formatBytes(r.perModelBytes),
        r.maxContext.toLocaleString('en-US'),
      ]),
    });
  }
  return out;
}
