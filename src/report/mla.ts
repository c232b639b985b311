import type { Measurement, OkMeasurement } from '../results/schema.js';
import { describeConstants, splitAxes, titleWithConstants, varyingCells, type AxisValue, type Params } from './axes.js';
import { passedCases } from './data.js';
import { flashMlaRows, flashMlaTable } from './flashmla.js';
import { formatBytes, formatDuration, formatPercent } from './format.js';
import { left, right, type TableModel } from './table-model.js';

/**
 * MLA summaries from results only: the KV-cache capacity table (per-token cache bytes per layer and per
 * model, measured from each case's kv-cache buffers, beside DeepSeek-V2 Table 1's formulas, and the longest
 * context that fits a memory budget), the naive-vs-absorbed crossover query length, and the decode speedups.
 */

export const DEFAULT_MEMORY_BUDGET_GB = 80;

export interface KvCapacityRow {
  /** The case it was read from. */
  key: string;
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
      key: c.key,
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
  /** The same as axes: every axis of its cases but form and q_len. */
  params: Params;
  /** Keys of the cases of its points. */
  sources: string[];
  points: CrossoverPoint[];
  /** Smallest query length from which naive-latent is faster than absorbed at every measured length; null if never. */
  crossoverQLen: number | null;
}

function without(params: Params, drop: readonly string[]): Record<string, AxisValue> {
  return Object.fromEntries(Object.entries(params).filter(([name]) => !drop.includes(name)));
}

function groupKey(c: Measurement, drop: string[]): string {
  return Object.entries(without(c.params, drop))
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
}

/** The query length where the naive form (decompress once, attend at 192/128) starts to beat the absorbed one. */
export function crossovers(cases: readonly Measurement[]): Crossover[] {
  type Point = { naive?: OkMeasurement; absorbed?: OkMeasurement };
  const groups = new Map<string, { params: Params; series: Map<number, Point> }>();
  for (const c of mlaCases(cases)) {
    const form = c.params['form'];
    const qLen = num(c.params['q_len']);
    if (qLen === null || (form !== 'naive-latent' && form !== 'absorbed')) continue;
    const key = groupKey(c, ['form', 'q_len']);
    const group = groups.get(key) ?? { params: without(c.params, ['form', 'q_len']), series: new Map<number, Point>() };
    groups.set(key, group);
    const point = group.series.get(qLen) ?? {};
    point[form === 'absorbed' ? 'absorbed' : 'naive'] = c;
    group.series.set(qLen, point);
  }
  const result: Crossover[] = [];
  for (const [group, { params, series }] of groups) {
    const complete = [...series.entries()]
      .filter((entry): entry is [number, Required<Point>] => entry[1].naive !== undefined && entry[1].absorbed !== undefined)
      .sort((a, b) => a[0] - b[0]);
    const points = complete.map(([qLen, p]) => ({ qLen, naiveMs: p.naive.timing.gpu.median, absorbedMs: p.absorbed.timing.gpu.median }));
    if (points.length < 2) continue;
    let crossoverQLen: number | null = null;
    for (let i = points.length - 1; i >= 0 && points[i]!.naiveMs < points[i]!.absorbedMs; i--) crossoverQLen = points[i]!.qLen;
    result.push({ group, params, sources: complete.flatMap(([, p]) => [p.naive.key, p.absorbed.key]), points, crossoverQLen });
  }
  return result;
}

export interface DecodeComparison {
  group: string;
  /** The shape as axes: every axis of its cases but form. */
  params: Params;
  /** Each form's case at this shape, whatever its status (a form the run has no case of is absent). */
  forms: ReadonlyMap<string, Measurement>;
  absorbedMs: number;
  naiveLatentMs: number | null;
  naiveExpandedMs: number | null;
  mhaMs: number | null;
  /** Absorbed's achieved fraction of the calibrated f32 FMA ceiling (its arithmetic is f32 at either storage dtype). */
  absorbedComputeFraction: number | null;
}

/** A suite's MLA cases per shape (every axis but form), each shape's cases by form, whatever their status. */
export function decodeShapes(
  cases: readonly Measurement[],
  suite = 'mla-decode',
): Array<{ group: string; params: Params; forms: Map<string, Measurement> }> {
  const groups = new Map<string, { group: string; params: Params; forms: Map<string, Measurement> }>();
  for (const c of cases) {
    if (c.suite !== suite || c.family !== 'mla') continue;
    const key = groupKey(c, ['form']);
    const shape = groups.get(key) ?? { group: key, params: without(c.params, ['form']), forms: new Map<string, Measurement>() };
    groups.set(key, shape);
    shape.forms.set(String(c.params['form']), c);
  }
  return [...groups.values()];
}

/** Absorbed decode against naive MLA and MHA at the same heads and head dim, per shape where absorbed was timed. */
export function decodeComparisons(cases: readonly Measurement[], suite = 'mla-decode'): DecodeComparison[] {
  const out: DecodeComparison[] = [];
  for (const { group, params, forms } of decodeShapes(cases, suite)) {
    const absorbed = forms.get('absorbed');
    if (absorbed?.status !== 'ok') continue;
    const ms = (form: string): number | null => {
      const c = forms.get(form);
      return c?.status === 'ok' ? c.timing.gpu.median : null;
    };
    out.push({
      group,
      params,
      forms,
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

/** Where a ratio to MHA is a reduction, as the tables show it: `57x`, `7.1x`, `0.8x`. */
const times = (value: number): string => `${value.toPrecision(value < 10 ? 2 : 3).replace(/\.0+$|(\.\d*?)0+$/, '$1')}x`;

/** The decode comparison: absorbed's time, the other forms' as multiples of it; a column per varying shape axis. */
export function decodeTable(decode: readonly DecodeComparison[]): TableModel {
  const split = splitAxes(decode.map((d) => d.params));
  return {
    title: titleWithConstants('MLA decode: each form against absorbed', split),
    columns: [
      ...split.varying.map(left),
      right('absorbed'),
      right('naive-latent'),
      right('naive-expanded'),
      right('MHA'),
      right('absorbed % f32 FMA'),
    ],
    rows: decode.map((d) => [
      ...varyingCells(d.params, split),
      formatDuration(d.absorbedMs),
      ratio(d.naiveLatentMs, d.absorbedMs),
      ratio(d.naiveExpandedMs, d.absorbedMs),
      ratio(d.mhaMs, d.absorbedMs),
      formatPercent(d.absorbedComputeFraction),
    ]),
    keyColumns: split.varying.length,
    notes: [
      'absorbed: its median time; the other forms (same heads and head dims): their time as a multiple of it, above 1x slower; - where the run has no timing.',
    ],
  };
}

export function crossoverTable(c: Crossover): TableModel {
  const constants = describeConstants(splitAxes([c.params]));
  return {
    title: `MLA crossover${constants ? ` (${constants})` : ''}: naive-latent beats absorbed from q_len ${c.crossoverQLen ?? 'never (in the measured range)'}`,
    columns: [right('q_len'), right('naive-latent'), right('absorbed'), right('naive / absorbed')],
    rows: c.points.map((p) => [
      String(p.qLen),
      formatDuration(p.naiveMs),
      formatDuration(p.absorbedMs),
      (p.naiveMs / p.absorbedMs).toFixed(2),
    ]),
  };
}

/** Per-token KV-cache bytes per layer and per model beside Table 1's formula, and the longest context in the budget. */
export function kvCapacityTable(kv: readonly KvCapacityRow[], budgetGB: number): TableModel {
  const split = splitAxes(kv.map((r) => ({ preset: r.preset, form: r.form, dtype: r.dtype })));
  const mhaBytes = new Map(kv.filter((r) => r.form === 'mha').map((r) => [`${r.preset}/${r.dtype}`, r.measuredBytes]));
  const mismatched = kv.some((r) => !r.matchesFormula);
  return {
    title: titleWithConstants(`KV cache per token (DeepSeek-V2 Table 1) and the longest context in ${budgetGB} GB`, split),
    columns: [
      ...split.varying.map(left),
      right('elements'),
      right('bytes/layer'),
      right('MHA / this'),
      right('layers'),
      right('per model'),
      right('max context'),
    ],
    rows: kv.map((r) => {
      const mha = mhaBytes.get(`${r.preset}/${r.dtype}`);
      return [
        ...varyingCells({ preset: r.preset, form: r.form, dtype: r.dtype }, split),
        r.formulaElements.toLocaleString('en-US'),
        `${r.measuredBytes.toLocaleString('en-US')}${r.matchesFormula ? '' : ` (formula ${r.formulaBytes.toLocaleString('en-US')})`}`,
        mha === undefined ? '-' : times(mha / r.measuredBytes),
        String(r.layers),
        formatBytes(r.perModelBytes),
        r.maxContext.toLocaleString('en-US'),
      ];
    }),
    keyColumns: split.varying.length,
    notes: [
      `elements: per token per layer by Table 1's formula; bytes/layer: measured from each case's kv-cache buffers${mismatched ? ' (where they differ from the formula, it follows in parentheses)' : ', as the formula gives in every row'}; per model: x layers; max context: tokens of one sequence whose cache fits ${budgetGB} GB.`,
    ],
  };
}

/** The decode comparison, each crossover series, the KV capacity and FlashMLA tables: none where the cases lack the data. */
export function mlaTables(cases: readonly Measurement[], budgetGB = DEFAULT_MEMORY_BUDGET_GB): TableModel[] {
  const decode = decodeComparisons(cases);
  const kv = kvCapacityRows(cases, budgetGB * 1e9);
  const flash = flashMlaRows(cases);
  return [
    ...(kv.length ? [kvCapacityTable(kv, budgetGB)] : []),
    ...(decode.length ? [decodeTable(decode)] : []),
    ...(flash.length ? [flashMlaTable(flash)] : []),
    ...crossovers(cases).map(crossoverTable),
  ];
}
