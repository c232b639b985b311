/**
 * Chart specs: plain, JSON-serialisable Chart.js configurations built from results, shared by the PNG
 * renderer (chart.js on @napi-rs/canvas) and the HTML report (Chart.js in the browser). Both pass a
 * spec through `finalizeChartConfig` (assets/chart-config.cjs), which adds what JSON cannot hold (callbacks).
 */
import type { OkMeasurement, PassedMeasurement } from '../results/schema.js';
import { describeCase } from '../suites/expand.js';
import { peerRatioCharts } from './peers.js';
import { kvBytesPerToken, okCases, passedCases, suitesOf, tokensPerRepeat, type DeviceResults } from './data.js';

export type ChartKind =
  'latency' | 'case-latency' | 'tokens' | 'kv-bytes' | 'crossover' | 'roofline' | 'moe-stages' | 'cross-hardware' | 'peer-ratio';

export interface ChartSpec {
  /** File-name safe, unique within a report. */
  id: string;
  kind: ChartKind;
  title: string;
  /** Size of the PNG in pixels. */
  width: number;
  height: number;
  /** A Chart.js configuration with data only (no functions); see finalizeChartConfig. */
  config: Record<string, unknown>;
}

/** Axes that make a good x axis, in order of preference. */
export const X_AXES = ['context', 'seq', 'tokens', 'batch'] as const;
/** Axes that name a line (a series), in order. */
export const SERIES_AXES = ['variant', 'form', 'dispatch', 'kernel', 'dtype'] as const;

const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
  '#bcbd22',
  '#393b79',
  '#637939',
];
const MAX_FACETS = 8;

export function color(index: number, alpha = 1): string {
  const hex = PALETTE[index % PALETTE.length] as string;
  if (alpha >= 1) return hex;
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

function numeric(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return null;
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 80) || 'chart'
  );
}

function distinct(cases: readonly OkMeasurement[], axis: string): Array<string | number> {
  return [...new Set(cases.map((c) => c.params[axis]).filter((v): v is string | number => v !== undefined))];
}

/** The x axis for a set of cases: the first of X_AXES that every case has as a number, with 2+ values. */
export function pickXAxis(cases: readonly OkMeasurement[], preferred: readonly string[] = X_AXES): string | null {
  for (const axis of preferred) {
    if (cases.length && cases.every((c) => numeric(c.params[axis]) !== null) && distinct(cases, axis).length >= 2) return axis;
  }
  return null;
}

interface Layout {
  x: string;
  series: string[];
  facets: string[];
}

/** Series axes present in the data; facets: every other axis with 2+ values (one chart per combination). */
export function layoutFor(cases: readonly OkMeasurement[], x: string, extraSeries: readonly string[] = []): Layout {
  const axes = [...new Set(cases.flatMap((c) => Object.keys(c.params)))];
  const seriesAxes = [...SERIES_AXES, ...extraSeries].filter((a) => a !== x && axes.includes(a));
  const series = seriesAxes.filter((a) => a !== 'dtype' || distinct(cases, a).length > 1);
  const facets = axes.filter((a) => a !== x && !seriesAxes.includes(a) && distinct(cases, a).length > 1);
  return { x, series, facets };
}

/** A category label as lines, one per axis: a name (`absorbed`, `host-loop`) alone, a number as `axis=value`. */
function labelLines(c: OkMeasurement, axes: readonly string[]): string[] {
  const lines = axes
    .filter((a) => c.params[a] !== undefined)
    .map((a) => (typeof c.params[a] === 'number' ? `${a}=${c.params[a]}` : String(c.params[a])));
  return lines.length ? lines : [c.suite];
}

function labelOf(c: OkMeasurement, axes: readonly string[]): string {
  return (
    axes
      .filter((a) => c.params[a] !== undefined)
      .map((a) => (SERIES_AXES.includes(a as never) ? String(c.params[a]) : `${a}=${c.params[a]}`))
      .join(' ') || c.suite
  );
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** Constant axes shown in a chart's subtitle, e.g. "dtype=f16 batch=1". */
function constantsOf(cases: readonly OkMeasurement[], exclude: readonly string[]): string {
  const axes = [...new Set(cases.flatMap((c) => Object.keys(c.params)))].filter((a) => !exclude.includes(a));
  return axes
    .filter((a) => distinct(cases, a).length === 1)
    .map((a) => `${a}=${cases[0]?.params[a]}`)
    .join(' ');
}

const AXIS_TITLES: Record<string, string> = {
  context: 'context length (tokens)',
  seq: 'sequence length (tokens)',
  tokens: 'tokens',
  batch: 'batch size (sequences)',
  q_len: 'query length (tokens per step)',
};

function axisTitle(axis: string): string {
  return AXIS_TITLES[axis] ?? axis;
}

function legendPosition(series: number): 'top' | 'right' {
  return series > 4 ? 'right' : 'top';
}

function baseOptions(title: string, subtitle: string, series: number): Record<string, unknown> {
  return {
    plugins: {
      title: { display: true, text: title },
      subtitle: { display: subtitle !== '', text: subtitle },
      legend: { position: legendPosition(series) },
    },
  };
}

function logScale(title: string, ticksAt?: number[]): Record<string, unknown> {
  return { type: 'logarithmic', title: { display: true, text: title }, ...(ticksAt && { ticksAt }) };
}

interface LineOptions {
  kind: ChartKind;
  title: string;
  yTitle: string;
  value: (c: OkMeasurement) => number | null;
  band?: (c: OkMeasurement) => { lo: number; hi: number } | null;
  logY: boolean;
}

/** The two edges of a series' CI band (the upper filled down to the lower), or none where a point has no CI. */
function bandDatasets(
  label: string,
  i: number,
  points: Array<{ c: OkMeasurement; x: number }>,
  band: NonNullable<LineOptions['band']>,
): Record<string, unknown>[] {
  const bands = points.map((p) => ({ x: p.x, ci: band(p.c) }));
  if (!bands.every((b) => b.ci && b.ci.lo > 0)) return [];
  const edge = (
    name: string,
    y: (ci: { lo: number; hi: number }) => number,
    fill: string | false,
    alpha: number,
  ): Record<string, unknown> => ({
    label: `${label} CI95 ${name}`,
    band: true,
    data: bands.map((b) => ({ x: b.x, y: b.ci ? y(b.ci) : undefined })),
    showLine: true,
    pointRadius: 0,
    borderWidth: 0,
    borderColor: color(i, 0),
    backgroundColor: color(i, alpha),
    fill,
  });
  return [edge('low', (ci) => ci.lo, false, 0), edge('high', (ci) => ci.hi, '-1', 0.18)];
}

/** One facet's datasets: a line per series, each with its CI band where `band` gives one. */
function seriesDatasets(own: OkMeasurement[], layout: Layout, opts: LineOptions): Record<string, unknown>[] {
  const datasets: Record<string, unknown>[] = [];
  [...groupBy(own, (c) => labelOf(c, layout.series))].forEach(([label, members], i) => {
    const sorted = [...members].sort((a, b) => (numeric(a.params[layout.x]) ?? 0) - (numeric(b.params[layout.x]) ?? 0));
    const points = sorted.flatMap((c) => {
      const y = opts.value(c);
      const x = numeric(c.params[layout.x]);
      return y !== null && x !== null && y > 0 ? [{ c, x, y }] : [];
    });
    if (!points.length) return;
    if (opts.band) datasets.push(...bandDatasets(label, i, points, opts.band));
    datasets.push({
      label,
      data: points.map((p) => ({ x: p.x, y: p.y })),
      showLine: true,
      borderColor: color(i),
      backgroundColor: color(i),
      pointRadius: 3,
      borderWidth: 2,
      fill: false,
    });
  });
  return datasets;
}

/** Lines of a y quantity against x per series, with a CI band where `band` gives one; one chart per facet. */
function lineCharts(device: string, suite: string, cases: OkMeasurement[], layout: Layout, opts: LineOptions): ChartSpec[] {
  const facets = [...groupBy(cases, (c) => labelOf(c, layout.facets))].slice(0, MAX_FACETS);
  return facets.map(([facet, own]) => {
    const datasets = seriesDatasets(own, layout, opts);
    const xs = [...new Set(own.map((c) => numeric(c.params[layout.x])).filter((v): v is number => v !== null && v > 0))].sort(
      (a, b) => a - b,
    );
    const subtitle = [device, facet !== suite ? facet : '', constantsOf(own, [layout.x, ...layout.series, ...layout.facets])]
      .filter(Boolean)
      .join(' · ');
    const visible = datasets.filter((d) => !d['band']).length;
    return {
      id: slug([opts.kind, device, suite, facet !== suite ? facet : ''].filter(Boolean).join('-')),
      kind: opts.kind,
      title: `${suite}: ${opts.title}`,
      width: 1100,
      height: 650,
      config: {
        type: 'scatter',
        data: { datasets },
        options: {
          ...baseOptions(`${suite}: ${opts.title}`, subtitle, visible),
          scales: {
            x: logScale(axisTitle(layout.x), xs),
            y: opts.logY ? logScale(opts.yTitle) : { type: 'linear', beginAtZero: true, title: { display: true, text: opts.yTitle } },
          },
        },
      },
    };
  });
}

const LATENCY_TITLE = 'median GPU time per repeat (ms)';

function latencyCharts(d: DeviceResults): ChartSpec[] {
  const charts: ChartSpec[] = [];
  for (const suite of suitesOf(d.cases)) {
    const cases = okCases(d.cases).filter((c) => c.suite === suite);
    if (hasNaiveAndAbsorbed(cases)) continue; // crossover chart
    const x = pickXAxis(cases);
    if (!x) {
      if (cases.length) charts.push(caseLatencyChart(d.device, suite, cases));
      continue;
    }
    charts.push(
      ...lineCharts(d.device, suite, cases, layoutFor(cases, x), {
        kind: 'latency',
        title: `latency against ${x} (median, CI95 band)`,
        yTitle: LATENCY_TITLE,
        value: (c) => c.timing.gpu.median,
        band: (c) => c.timing.gpu.ci95,
        logY: true,
      }),
    );
  }
  return charts;
}

/** Suites without a numeric sweep axis (calibration): one horizontal bar per case. */
function caseLatencyChart(device: string, suite: string, cases: OkMeasurement[]): ChartSpec {
  const varying = [...new Set(cases.flatMap((c) => Object.keys(c.params)))].filter((a) => distinct(cases, a).length > 1);
  const labels = cases.map((c) => describeCase(Object.fromEntries(varying.map((a) => [a, c.params[a] as string | number]))) || c.key);
  return {
    id: slug(`case-latency-${device}-${suite}`),
    kind: 'case-latency',
    title: `${suite}: median latency per case`,
    width: 1100,
    height: Math.max(400, 140 + 34 * cases.length),
    config: {
      type: 'bar',
      data: {
        labels,
        datasets: [
          {
            label: 'median GPU time per repeat',
            data: cases.map((c) => c.timing.gpu.median),
            backgroundColor: color(0, 0.75),
            borderColor: color(0),
            borderWidth: 1,
          },
        ],
      },
      options: {
        indexAxis: 'y',
        ...baseOptions(`${suite}: median latency per case`, [device, constantsOf(cases, varying)].filter(Boolean).join(' · '), 1),
        scales: { x: logScale(LATENCY_TITLE), y: { title: { display: true, text: 'case' } } },
      },
    },
  };
}

function isDecode(c: OkMeasurement): boolean {
  return c.params['phase'] === 'decode' || /decode/.test(c.suite);
}

function tokensCharts(d: DeviceResults): ChartSpec[] {
  const charts: ChartSpec[] = [];
  for (const suite of suitesOf(d.cases)) {
    const cases = okCases(d.cases).filter((c) => c.suite === suite && isDecode(c));
    if (!pickXAxis(cases, ['batch'])) continue;
    const layout = layoutFor(cases, 'batch');
    // One chart per context is too many: the shortest, a middle and the longest context.
    const ctxAxis = layout.facets.find((a) => a === 'context' || a === 'seq');
    let shown = cases;
    if (ctxAxis) {
      const values = [...new Set(cases.map((c) => numeric(c.params[ctxAxis])).filter((v): v is number => v !== null))].sort(
        (a, b) => a - b,
      );
      const keep = new Set([values[0], values[Math.floor((values.length - 1) / 2)], values[values.length - 1]]);
      shown = cases.filter((c) => keep.has(numeric(c.params[ctxAxis]) ?? NaN));
    }
    charts.push(
      ...lineCharts(d.device, suite, shown, layout, {
        kind: 'tokens',
        title: 'decode throughput against batch',
        yTitle: 'decode throughput (tokens/s)',
        value: (c) => {
          const tokens = tokensPerRepeat(c);
          return tokens !== null && c.timing.gpu.median > 0 ? tokens / (c.timing.gpu.median / 1e3) : null;
        },
        band: (c) => {
          const tokens = tokensPerRepeat(c);
          return tokens === null ? null : { lo: tokens / (c.timing.gpu.ci95.hi / 1e3), hi: tokens / (c.timing.gpu.ci95.lo / 1e3) };
        },
        logY: true,
      }),
    );
  }
  return charts;
}

/**
 * KV-cache bytes per token per layer: a group of bars per variant or form, a bar per preset in each (one colour
 * per preset, named in the legend), each bar's bytes written above it. Short category names keep the x labels
 * apart at any page width, where one bar per preset and form with four-line labels ran into each other.
 */
function kvBytesChart(d: DeviceResults): ChartSpec[] {
  const withKv = passedCases(d.cases).filter((c) => kvBytesPerToken(c) !== null);
  // The kv-cache suite is Table 1 at every preset; where it ran, the other suites' caches would only repeat it.
  const tableCases = withKv.filter((c) => c.suite === 'kv-cache');
  const cases = tableCases.length ? tableCases : withKv;
  if (!cases.length) return [];
  const dtypes = new Set(cases.map((c) => String(c.params['dtype'] ?? c.dtype)));
  const category = (c: PassedMeasurement): string =>
    [String(c.params['variant'] ?? c.params['form'] ?? c.suite), ...(dtypes.size > 1 ? [String(c.params['dtype'] ?? c.dtype)] : [])].join(
      ' ',
    );
  const presets = [...new Set(cases.map((c) => (c.params['preset'] === undefined ? '' : String(c.params['preset']))))];
  const bytesOf = new Map<string, number>();
  for (const c of cases) {
    const key = `${category(c)}\u0000${c.params['preset'] ?? ''}`;
    if (!bytesOf.has(key)) bytesOf.set(key, kvBytesPerToken(c) as number);
  }
  const categories = [...new Set(cases.map(category))];
  const largest = (name: string): number => Math.max(...presets.map((p) => bytesOf.get(`${name}\u0000${p}`) ?? 0));
  categories.sort((a, b) => largest(b) - largest(a));
  const all = [...bytesOf.values()];
  const spread = Math.max(...all) / Math.min(...all);
  const constants = dtypes.size === 1 ? `dtype=${[...dtypes][0]}` : '';
  return [
    {
      id: slug(`kv-bytes-${d.device}`),
      kind: 'kv-bytes',
      title: 'KV-cache bytes per token',
      width: 1100,
      height: 600,
      config: {
        type: 'bar',
        data: {
          labels: categories,
          datasets: presets.map((preset, i) => ({
            label: preset || 'KV-cache bytes per cached token (one layer)',
            data: categories.map((name) => bytesOf.get(`${name}\u0000${preset}`) ?? null),
            backgroundColor: color(i, 0.75),
            borderColor: color(i),
            borderWidth: 1,
          })),
        },
        options: {
          ...baseOptions('KV-cache bytes per token per layer', [d.device, constants].filter(Boolean).join(' · '), presets.length),
          plugins: {
            title: { display: true, text: 'KV-cache bytes per token per layer' },
            subtitle: { display: true, text: [d.device, constants].filter(Boolean).join(' · ') },
            legend: { display: presets.some(Boolean), position: 'top' },
            valueLabels: { display: true },
          },
          scales: {
            x: { title: { display: true, text: cases.some((c) => c.params['variant'] !== undefined) ? 'variant' : 'form' } },
            // On a log axis a bar starts at the axis minimum: put it a decade below the smallest bar so every bar shows.
            y:
              spread > 20
                ? { ...logScale('KV-cache per token per layer (bytes)'), min: 10 ** Math.floor(Math.log10(Math.min(...all)) - 1) }
                : { type: 'linear', beginAtZero: true, title: { display: true, text: 'KV-cache per token per layer (bytes)' } },
          },
        },
      },
    },
  ];
}

const isNaiveForm = (c: OkMeasurement): boolean => String(c.params['form'] ?? '').startsWith('naive');

function hasNaiveAndAbsorbed(cases: readonly OkMeasurement[]): boolean {
  return cases.some(isNaiveForm) && cases.some((c) => c.params['form'] === 'absorbed');
}

function crossoverCharts(d: DeviceResults): ChartSpec[] {
  const charts: ChartSpec[] = [];
  for (const suite of suitesOf(d.cases)) {
    const cases = okCases(d.cases).filter((c) => c.suite === suite);
    if (!hasNaiveAndAbsorbed(cases)) continue;
    // The crossover is a function of the query length (mla-crossover); elsewhere of context, seq or batch.
    const x = pickXAxis(cases, ['q_len', ...X_AXES]);
    if (!x) {
      charts.push(caseLatencyChart(d.device, suite, cases));
      continue;
    }
    charts.push(
      ...lineCharts(d.device, suite, cases, layoutFor(cases, x), {
        kind: 'crossover',
        title: `MLA naive vs absorbed against ${x}`,
        yTitle: LATENCY_TITLE,
        value: (c) => c.timing.gpu.median,
        band: (c) => c.timing.gpu.ci95,
        logY: true,
      }),
    );
  }
  return charts;
}

function roundTo3(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toPrecision(3);
}

/** Achieved GFLOP/s against arithmetic intensity, under the calibrated roof (copy GB/s slope, FMA peaks). */
export function rooflineChart(d: DeviceResults): ChartSpec[] {
  const cases = okCases(d.cases).filter((c) => c.work.flops > 0 && c.rates.intensity > 0 && c.rates.gflops > 0);
  const { copyGBs, fmaF32Gflops, fmaF16Gflops } = d.ceilings;
  if (!cases.length || (!copyGBs && !fmaF32Gflops && !fmaF16Gflops)) return [];
  const datasets: Record<string, unknown>[] = [];
  const intensities = cases.map((c) => c.rates.intensity);
  const peaks = [fmaF32Gflops, fmaF16Gflops].filter((v): v is number => v !== null && v > 0);
  const ridges = copyGBs ? peaks.map((p) => p / copyGBs) : [];
  const xMin = Math.min(...intensities, ...ridges) / 4;
  const xMax = Math.max(...intensities, ...ridges) * 4;
  const top = Math.max(...peaks, 0);
  if (copyGBs) {
    const xEnd = top > 0 ? top / copyGBs : xMax;
    datasets.push({
      label: `copy bandwidth ${roundTo3(copyGBs)} GB/s`,
      roof: true,
      pointStyle: 'line',
      data: [
        { x: xMin, y: copyGBs * xMin },
        { x: xEnd, y: copyGBs * xEnd },
      ],
      showLine: true,
      pointRadius: 0,
      borderColor: '#333333',
      backgroundColor: '#333333',
      borderWidth: 2,
      borderDash: [8, 4],
    });
  }
  const flat = (label: string, peak: number | null, index: number): void => {
    if (!peak) return;
    const from = copyGBs ? peak / copyGBs : xMin;
    datasets.push({
      label: `${label} ${roundTo3(peak)} GFLOP/s`,
      roof: true,
      pointStyle: 'line',
      data: [
        { x: from, y: peak },
        { x: xMax, y: peak },
      ],
      showLine: true,
      pointRadius: 0,
      borderColor: index ? '#888888' : '#000000',
      backgroundColor: index ? '#888888' : '#000000',
      borderWidth: 2,
    });
  };
  flat('f32 FMA peak', fmaF32Gflops, 0);
  flat('f16 FMA peak', fmaF16Gflops, 1);
  [...groupBy(cases, (c) => `${c.suite} ${c.dtype}`)].forEach(([label, members], i) => {
    datasets.push({
      label,
      data: members.map((c) => ({ x: c.rates.intensity, y: c.rates.gflops, key: c.key })),
      pointRadius: 5,
      pointStyle: ['circle', 'triangle', 'rect', 'rectRot', 'star', 'crossRot'][i % 6],
      borderColor: color(i),
      backgroundColor: color(i, 0.6),
    });
  });
  return [
    {
      id: slug(`roofline-${d.device}`),
      kind: 'roofline',
      title: 'Roofline',
      width: 1100,
      height: 700,
      config: {
        type: 'scatter',
        data: { datasets },
        options: {
          ...baseOptions('Roofline: achieved throughput against arithmetic intensity', `${d.device} · roof from this run's calibration`, 1),
          scales: {
            x: { ...logScale('arithmetic intensity (FLOP/byte)'), min: xMin, max: xMax },
            y: logScale('achieved throughput (GFLOP/s)'),
          },
        },
      },
    },
  ];
}

/** Multi-stage cases (MLA forms, MoE dispatch): each stage's share of the summed stage medians, and scaling with tokens. */
function stageCharts(d: DeviceResults): ChartSpec[] {
  const charts: ChartSpec[] = [];
  for (const suite of suitesOf(d.cases)) {
    const cases = okCases(d.cases).filter((c) => c.suite === suite && c.stages?.length);
    if (!cases.length) continue;
    const x = pickXAxis(cases, ['tokens', 'batch', 'context', 'seq', 'q_len']);
    const varying = [...new Set(cases.flatMap((c) => Object.keys(c.params)))].filter((a) => distinct(cases, a).length > 1);
    const sorted = x ? [...cases].sort((a, b) => (numeric(a.params[x]) ?? 0) - (numeric(b.params[x]) ?? 0)) : cases;
    const stages = [...new Set(cases.flatMap((c) => (c.stages ?? []).map((s) => s.name)))];
    charts.push({
      id: slug(`stages-${d.device}-${suite}`),
      kind: 'moe-stages',
      title: `${suite}: stage breakdown`,
      width: 1100,
      height: 650,
      config: {
        type: 'bar',
        data: {
          // A line per axis keeps each label narrow; Chart.js still tilts them where even that does not fit.
          labels: sorted.map((c) => labelLines(c, varying)),
          datasets: stages.map((stage, i) => ({
            label: stage,
            data: sorted.map((c) => {
              const total = (c.stages ?? []).reduce((sum, s) => sum + s.gpu.median, 0);
              const own = c.stages?.find((s) => s.name === stage)?.gpu.median ?? 0;
              return total > 0 ? (100 * own) / total : 0;
            }),
            backgroundColor: color(i, 0.8),
            borderColor: color(i),
            borderWidth: 1,
            stack: 'stages',
          })),
        },
        options: {
          ...baseOptions(
            `${suite}: share of each stage (timed in its own pass) in the summed stage time`,
            [d.device, constantsOf(cases, varying)].filter(Boolean).join(' · '),
            stages.length,
          ),
          scales: {
            // Every bar keeps its label (autoSkip would leave every other one bare).
            x: { stacked: true, title: { display: true, text: varying.join(', ') || 'case' }, ticks: { autoSkip: false } },
            y: { stacked: true, beginAtZero: true, max: 100, title: { display: true, text: 'share of the summed stage medians (%)' } },
          },
        },
      },
    });
  }
  return charts;
}

const CROSS_PER_CHART = 24;

/** Median per case per device, for cases measured on at least two devices. */
export function crossHardwareCharts(devices: readonly DeviceResults[]): ChartSpec[] {
  if (devices.length < 2) return [];
  const medians = devices.map((d) => new Map(okCases(d.cases).map((c) => [c.key, c])));
  const keys = [...new Set(medians.flatMap((m) => [...m.keys()]))].filter((k) => medians.filter((m) => m.has(k)).length >= 2);
  const charts: ChartSpec[] = [];
  const bySuite = groupBy(keys, (k) => k.split('/')[0] ?? '');
  for (const [suite, suiteKeys] of bySuite) {
    for (let start = 0; start < suiteKeys.length; start += CROSS_PER_CHART) {
      const chunk = suiteKeys.slice(start, start + CROSS_PER_CHART);
      const part =
        suiteKeys.length > CROSS_PER_CHART ? ` (${start / CROSS_PER_CHART + 1}/${Math.ceil(suiteKeys.length / CROSS_PER_CHART)})` : '';
      const members = chunk.flatMap((k) => medians.flatMap((m) => (m.has(k) ? [m.get(k) as OkMeasurement] : [])));
      const varying = [...new Set(members.flatMap((c) => Object.keys(c.params)))].filter((a) => distinct(members, a).length > 1);
      const labels = chunk.map((k) => {
        const c = medians.find((m) => m.has(k))?.get(k);
        return c ? describeCase(Object.fromEntries(varying.map((a) => [a, c.params[a] as string | number]))) || k : k;
      });
      const present = devices.map((_, i) => i).filter((i) => chunk.some((k) => medians[i]?.has(k)));
      const constants = constantsOf(members, varying);
      charts.push({
        id: slug(`cross-hardware-${suite}-${start / CROSS_PER_CHART + 1}`),
        kind: 'cross-hardware',
        title: `${suite}: cross-hardware${part}`,
        width: 1100,
        height: Math.max(450, 180 + chunk.length * (14 + 10 * devices.length)),
        config: {
          type: 'bar',
          data: {
            labels,
            datasets: present.map((i) => ({
              label: devices[i]?.device,
              data: chunk.map((k) => medians[i]?.get(k)?.timing.gpu.median ?? null),
              backgroundColor: color(i, 0.8),
              borderColor: color(i),
              borderWidth: 1,
            })),
          },
          options: {
            indexAxis: 'y',
            ...baseOptions(`${suite}: median latency per device${part}`, 'shorter is faster', devices.length),
            plugins: {
              title: { display: true, text: `${suite}: median latency per device${part}` },
              subtitle: { display: true, text: ['shorter is faster', constants].filter(Boolean).join(' · ') },
              legend: { position: 'top' },
            },
            scales: { x: logScale(LATENCY_TITLE), y: { title: { display: true, text: 'case' } } },
          },
        },
      });
    }
  }
  return charts;
}

/** Every chart the data supports; kinds without data are left out. */
export function buildCharts(devices: readonly DeviceResults[]): ChartSpec[] {
  const charts: ChartSpec[] = [];
  for (const d of devices) {
    charts.push(
      ...latencyCharts(d),
      ...tokensCharts(d),
      ...kvBytesChart(d),
      ...crossoverCharts(d),
      ...rooflineChart(d),
      ...stageCharts(d),
      ...peerRatioCharts(d),
    );
  }
  charts.push(...crossHardwareCharts(devices));
  const seen = new Map<string, number>();
  for (const chart of charts) {
    const n = seen.get(chart.id) ?? 0;
    seen.set(chart.id, n + 1);
    if (n) chart.id = `${chart.id}-${n + 1}`;
  }
  return charts;
}
