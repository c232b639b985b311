import type { Ceilings } from '../measure/rates.js';
import type { Measurement, OkMeasurement, StageTiming } from '../results/schema.js';
import { splitAxes, type Params } from './axes.js';
import { okCases } from './data.js';
import { formatBytes, formatDuration, formatPercent } from './format.js';
import { crossovers, decodeShapes, DEFAULT_MEMORY_BUDGET_GB, kvCapacityRows, type KvCapacityRow } from './mla.js';
import { decidingStages, stageDeltas, type StageDelta } from './stages.js';

/**
 * The answers a run gives, computed from its results alone (the README's findings): what MLA's cache saves
 * against MHA/GQA/MQA, where absorbed MLA decode wins or loses and which stage decides it, the query length
 * from which naive MLA wins, the GPU-resident MoE dispatch against a host loop, and how near each headline
 * kernel runs to its roof. Whatever a run did not measure (a suite not run, cases a budget left out, skipped
 * or failed) is a finding too, saying so.
 */

export type FindingTopic = 'kv-cache' | 'mla-decode' | 'mla-crossover' | 'moe-dispatch' | 'roof';

export interface Finding {
  topic: FindingTopic;
  /** What it is about, in a few words: `KV cache, deepseek-v2`. */
  subject: string;
  /** Where it holds: the shape or setting it was measured at (`batch 1, context 1024, f32`), or null. */
  where: string | null;
  /** The answer in a sentence, with its key numbers; where the run cannot answer, why. */
  headline: string;
  /** False where this run has no numbers for it: a suite not run, cases left out by a budget, skipped or failed. */
  measured: boolean;
  /** The numbers behind the headline, each with what it is. */
  numbers: Array<{ label: string; value: string }>;
  /** Keys of the cases it was computed from. */
  sources: string[];
}

export interface FindingsInput {
  cases: readonly Measurement[];
  ceilings: Ceilings;
}

/** The findings section's title, in every medium. */
export const FINDINGS_TITLE = 'Findings, computed from these results (stage +time: what that stage adds to the slower form)';

/** A finding as one line of text: its subject, where it holds, its headline. */
export function findingLine(finding: Finding): string {
  return `${finding.subject}${finding.where ? ` (${finding.where})` : ''}: ${finding.headline}`;
}

/** Every finding, in the order of the question: KV cache, MLA decode, crossover, MoE dispatch, roofs. */
export function findings(input: FindingsInput, memoryBudgetGB = DEFAULT_MEMORY_BUDGET_GB): Finding[] {
  return [
    ...kvFindings(input.cases, memoryBudgetGB),
    ...decodeFindings(input.cases),
    ...crossoverFindings(input.cases),
    ...moeFindings(input.cases),
    ...roofFindings(input.cases),
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Shared wording

/** A multiple as a finding says it: two significant digits below 10 (`3.6x`), whole above (`57x`). */
export function times(ratio: number): string {
  return `${ratio >= 10 ? Math.round(ratio) : Number(ratio.toPrecision(2))}x`;
}

/** A long reason cut to what comes before its first colon, or its first 60 characters: the tables hold it whole. */
function brief(reason: string): string {
  const head = reason.split(': ')[0] as string;
  if (head.length <= 60) return head;
  return `${reason.slice(0, 59).trimEnd()}…`;
}

/** Why some cases give no number, from their statuses; `absent` where there are none. */
export function whyUnmeasured(cases: readonly Measurement[], absent: string): string {
  if (cases.length === 0) return absent;
  const count = (status: Measurement['status']): number => cases.filter((c) => c.status === status).length;
  const some = (n: number): string => (n === cases.length ? '' : `${n} of ${cases.length} `);
  const parts: string[] = [];
  const leftOut = count('left-out');
  if (leftOut) parts.push(`${some(leftOut)}left out by the run's time budget`);
  const skipped = cases.find((c): c is Extract<Measurement, { status: 'skipped' }> => c.status === 'skipped');
  if (skipped) parts.push(`${some(count('skipped'))}skipped (${brief(skipped.reason)})`);
  const error = cases.find((c): c is Extract<Measurement, { status: 'error' }> => c.status === 'error');
  if (error) parts.push(`${some(count('error'))}failed (${brief(error.message)})`);
  const failed = count('numerics-failed');
  if (failed) parts.push(`${some(failed)}failed the numerics check`);
  const checked = count('checked');
  if (checked) parts.push(`${some(checked)}checked, not timed`);
  return parts.join('; ') || absent;
}

function unmeasured(topic: FindingTopic, subject: string, why: string, sources: readonly Measurement[] = []): Finding {
  return {
    topic,
    subject,
    where: null,
    headline: `not measured in this run: ${why}.`,
    measured: false,
    numbers: [],
    sources: sources.map((c) => c.key),
  };
}

const suiteNotRun = (suite: string): string => `the ${suite} suite was not run`;

/** A shape in words, its axes in the order given, e.g. `batch 1, context 1024, f32` (q_len 1, plain decode, goes unsaid). */
function describeShape(params: Params, axes: readonly string[]): string {
  return axes
    .filter((axis) => params[axis] !== undefined && !(axis === 'q_len' && params[axis] === 1))
    .map((axis) => (axis === 'dtype' ? String(params[axis]) : `${axis} ${params[axis]}`))
    .join(', ');
}

const SHAPE_AXES = ['batch', 'tokens', 'context', 'seq', 'q_len', 'dtype'];

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

/** `1.8-2.1x` over several ratios, `1.8x` over one. */
function ratioRange(ratios: readonly number[]): string {
  const lo = Math.min(...ratios);
  const hi = Math.max(...ratios);
  const [a, b] = [times(lo), times(hi)];
  return a === b ? a : `${a.slice(0, -1)}-${b}`;
}

// ---------------------------------------------------------------------------------------------------------
// KV cache per token: MLA's latent against MHA / GQA / MQA at each preset (kv-cache suite)

const KV_SUITE = 'kv-cache';
const KV_BASELINES = [
  ['mha', 'MHA'],
  ['gqa', 'GQA'],
  ['mqa', 'MQA'],
] as const;

export function kvFindings(cases: readonly Measurement[], budgetGB: number): Finding[] {
  const suite = cases.filter((c) => c.suite === KV_SUITE);
  if (suite.length === 0) return [unmeasured('kv-cache', 'KV cache', suiteNotRun(KV_SUITE))];
  const rows = kvCapacityRows(cases, budgetGB * 1e9);
  const presets = [...new Set(suite.map((c) => String(c.params['preset'] ?? '')))];
  return presets.flatMap((preset) => {
    const own = rows.filter((r) => r.preset === preset);
    const ownCases = suite.filter((c) => String(c.params['preset'] ?? '') === preset);
    const dtypes = [...new Set(own.map((r) => r.dtype))];
    if (dtypes.length === 0)
      return [unmeasured('kv-cache', `KV cache, ${preset}`, whyUnmeasured(ownCases, 'no case of this preset'), ownCases)];
    return dtypes.map((dtype) =>
      kvFinding(
        preset,
        own.filter((r) => r.dtype === dtype),
        ownCases,
        budgetGB,
      ),
    );
  });
}

function kvFinding(preset: string, rows: readonly KvCapacityRow[], presetCases: readonly Measurement[], budgetGB: number): Finding {
  const subject = `KV cache, ${preset}`;
  const form = (name: string): KvCapacityRow | undefined => rows.find((r) => r.form === name);
  const mla = form('absorbed') ?? form('naive-latent');
  const casesOf = (name: string): Measurement[] => presetCases.filter((c) => c.params['form'] === name);
  if (!mla)
    return unmeasured(
      'kv-cache',
      subject,
      `MLA's latent cache ${whyUnmeasured([...casesOf('absorbed'), ...casesOf('naive-latent')], 'not in this run')}`,
      presetCases,
    );
  const bytes = (n: number): string => n.toLocaleString('en-US');
  const against = KV_BASELINES.map(([name, label]) => {
    const row = form(name);
    if (!row) return `${label} ${whyUnmeasured(casesOf(name), 'not in this run')}`;
    const ratio = row.measuredBytes / mla.measuredBytes;
    return `${ratio >= 1 ? `${times(ratio)} less than` : `${times(1 / ratio)} more than`} ${label} (${bytes(row.measuredBytes)})`;
  });
  const mha = form('mha');
  const capacity = `${budgetGB} GB holds ${bytes(mla.maxContext)} tokens${mha ? ` (MHA: ${bytes(mha.maxContext)})` : ''}`;
  const used = [mla, ...KV_BASELINES.flatMap(([name]) => form(name) ?? [])];
  return {
    topic: 'kv-cache',
    subject,
    where: `${mla.dtype}, ${mla.layers} layers`,
    headline: `MLA ${bytes(mla.measuredBytes)} B/token/layer: ${against.join(', ')}; ${capacity}.`,
    measured: true,
    numbers: used.flatMap((r) => [
      { label: `${r.form} bytes/token/layer`, value: bytes(r.measuredBytes) },
      { label: `${r.form} bytes/token/model`, value: formatBytes(r.perModelBytes) },
      { label: `${r.form} max context in ${budgetGB} GB`, value: bytes(r.maxContext) },
    ]),
    sources: used.map((r) => r.key),
  };
}

// ---------------------------------------------------------------------------------------------------------
// MLA decode: absorbed against naive-latent / naive-expanded, and against MHA, per preset (mla-decode suite)

const DECODE_SUITE = 'mla-decode';

/** The shape a preset's finding is told at: batch 1 (the smallest), context nearest 1024 (the README's). */
function referenceShape<T extends { params: Params }>(shapes: readonly T[]): T | undefined {
  const score = (s: T): [number, number] => [num(s.params['batch']) ?? 1, Math.abs(Math.log2((num(s.params['context']) ?? 1024) / 1024))];
  return [...shapes].sort((a, b) => {
    const [ba, ca] = score(a);
    const [bb, cb] = score(b);
    return ba - bb || ca - cb;
  })[0];
}

/** `up-project +950 ms`: the deciding stages and the extra time each costs the slower form. */
function describeStages(deltas: readonly StageDelta[]): string {
  return deltas.map((d) => `${d.stage} +${formatDuration(d.deltaMs)}`).join(', ');
}

/** `89x faster than naive-latent (880 ms; up-project +950 ms)`, from either side. */
function versus(absorbed: OkMeasurement, other: OkMeasurement, label: string): { text: string; ratio: number; deciding: StageDelta[] } {
  const ratio = other.timing.gpu.median / absorbed.timing.gpu.median;
  const slower = ratio < 1;
  const deltas = slower ? stageDeltas(absorbed, other) : stageDeltas(other, absorbed);
  const deciding = deltas ? decidingStages(deltas) : [];
  const why = deciding.length ? `; ${describeStages(deciding)}` : '';
  const text = `${slower ? `${times(1 / ratio)} slower than` : `${times(ratio)} faster than`} ${label} (${formatDuration(other.timing.gpu.median)}${why})`;
  return { text, ratio, deciding };
}

interface Versus {
  /** `89x faster than naive-latent (880 ms; up-project +950 ms)`, or why it has no number. */
  text: string;
  other: OkMeasurement | null;
  /** other / absorbed. */
  ratio: number | null;
  deciding: StageDelta[];
}

function versusForm(absorbed: OkMeasurement, forms: ReadonlyMap<string, Measurement>, form: string, label: string): Versus {
  const other = forms.get(form);
  if (other?.status !== 'ok')
    return { text: `${label} ${whyUnmeasured(other ? [other] : [], 'not in this run')}`, other: null, ratio: null, deciding: [] };
  return { ...versus(absorbed, other, label), other };
}

function versusNumbers(v: Versus): Finding['numbers'] {
  if (!v.other || v.ratio === null) return [];
  const form = String(v.other.params['form']);
  return [
    { label: `${form} median`, value: formatDuration(v.other.timing.gpu.median) },
    { label: `${form} / absorbed`, value: `${v.ratio.toPrecision(3)}x` },
    ...v.deciding.map((d) => ({ label: `${d.stage}: extra time of the slower form`, value: formatDuration(d.deltaMs) })),
  ];
}

/**
 * From which batch absorbed decode beats MHA, per context: the smallest measured batch from which it is faster at
 * that batch and every larger one measured. Where it never is, says so with the largest batch the sweep reached.
 */
export function absorbedBeatsMhaFrom(shapes: ReadonlyArray<{ params: Params; forms: ReadonlyMap<string, Measurement> }>): string {
  const points = shapes.flatMap((s) => {
    const [absorbed, mha] = [s.forms.get('absorbed'), s.forms.get('mha')];
    const batch = num(s.params['batch']);
    const context = num(s.params['context']);
    if (absorbed?.status !== 'ok' || mha?.status !== 'ok' || batch === null || context === null) return [];
    return [{ batch, context, wins: absorbed.timing.gpu.median < mha.timing.gpu.median }];
  });
  if (points.length === 0) return 'No shape has both absorbed and MHA measured.';
  const contexts = [...new Set(points.map((p) => p.context))].sort((a, b) => a - b);
  const parts = contexts.map((context) => {
    const own = points.filter((p) => p.context === context).sort((a, b) => a.batch - b.batch);
    const last = own[own.length - 1]!.batch;
    const from = own.findIndex((p, i) => own.slice(i).every((q) => q.wins));
    if (from < 0) return `at no batch up to ${last} at context ${context}`;
    return from === 0 && own.length === 1
      ? `at batch ${own[0]!.batch} at context ${context}`
      : `from batch ${own[from]!.batch} at context ${context}`;
  });
  return `Absorbed beats MHA ${parts.join('; ')} (measured: batch ${[...new Set(points.map((p) => p.batch))].sort((a, b) => a - b).join(', ')}).`;
}

export function decodeFindings(cases: readonly Measurement[]): Finding[] {
  const shapes = decodeShapes(cases, DECODE_SUITE);
  if (shapes.length === 0) return [unmeasured('mla-decode', 'MLA decode', suiteNotRun(DECODE_SUITE))];
  const byPreset = groupBy(shapes, (s) => String(s.params['preset'] ?? ''));
  return [...byPreset].flatMap(([preset, presetShapes]): Finding[] => {
    const of = preset ? `, ${preset}` : '';
    const timed = presetShapes.filter((s) => s.forms.get('absorbed')?.status === 'ok');
    const shape = referenceShape(timed);
    if (!shape) {
      const absorbedCases = presetShapes.flatMap((s) => s.forms.get('absorbed') ?? []);
      return [unmeasured('mla-decode', `MLA decode${of}`, `absorbed ${whyUnmeasured(absorbedCases, 'has no case')}`, absorbedCases)];
    }
    const absorbed = shape.forms.get('absorbed') as OkMeasurement;
    const where = describeShape(shape.params, SHAPE_AXES);
    const lead = `absorbed (${formatDuration(absorbed.timing.gpu.median)}) is`;
    const absorbedNumber = { label: 'absorbed median', value: formatDuration(absorbed.timing.gpu.median) };
    const naive = [
      versusForm(absorbed, shape.forms, 'naive-latent', 'naive-latent'),
      versusForm(absorbed, shape.forms, 'naive-expanded', 'naive-expanded'),
    ];
    const naiveTimed = naive.filter((v) => v.other);
    const naiveFinding: Finding = naiveTimed.length
      ? {
          topic: 'mla-decode',
          subject: `MLA decode vs naive${of}`,
          where,
          headline: `${lead} ${naiveTimed.map((v) => v.text).join(', ')}${naive
            .filter((v) => !v.other)
            .map((v) => `; ${v.text}`)
            .join('')}.`,
          measured: true,
          numbers: [absorbedNumber, ...naive.flatMap(versusNumbers)],
          sources: [absorbed.key, ...naiveTimed.map((v) => (v.other as OkMeasurement).key)],
        }
      : { ...unmeasured('mla-decode', `MLA decode vs naive${of}`, naive.map((v) => v.text).join('; ')), where };
    const mha = versusForm(absorbed, shape.forms, 'mha', 'MHA');
    const overShapes = timed.length > 1 ? ` ${absorbedBeatsMhaFrom(timed)}` : '';
    const mhaFinding: Finding = mha.other
      ? {
          topic: 'mla-decode',
          subject: `MLA decode vs MHA${of}`,
          where,
          headline: `${lead} ${mha.text}.${overShapes}`,
          measured: true,
          numbers: [absorbedNumber, ...versusNumbers(mha)],
          sources: [absorbed.key, mha.other.key],
        }
      : { ...unmeasured('mla-decode', `MLA decode vs MHA${of}`, mha.text), where };
    return [naiveFinding, mhaFinding];
  });
}

// ---------------------------------------------------------------------------------------------------------
// Crossover: the query length from which naive-latent beats absorbed (mla-crossover suite)

const CROSSOVER_SUITE = 'mla-crossover';

export function crossoverFindings(cases: readonly Measurement[]): Finding[] {
  const suite = cases.filter((c) => c.suite === CROSSOVER_SUITE);
  if (suite.length === 0) return [unmeasured('mla-crossover', 'MLA crossover', suiteNotRun(CROSSOVER_SUITE))];
  const series = crossovers(suite);
  if (series.length === 0) {
    const untimed = suite.filter((c) => c.status !== 'ok');
    return [
      unmeasured(
        'mla-crossover',
        'MLA crossover',
        untimed.length ? whyUnmeasured(untimed, '') : 'fewer than two query lengths with both forms timed',
        untimed,
      ),
    ];
  }
  return series.map((c) => {
    const preset = c.params['preset'];
    const subject = `MLA crossover${preset === undefined ? '' : `, ${preset}`}`;
    const first = c.points[0]!;
    const last = c.points[c.points.length - 1]!;
    const at = c.points.find((p) => p.qLen === c.crossoverQLen);
    const answer = at
      ? `naive-latent beats absorbed from q_len ${at.qLen} (${formatDuration(at.naiveMs)} against ${formatDuration(at.absorbedMs)})`
      : `absorbed stays faster up to q_len ${last.qLen}, the longest measured (${formatDuration(last.absorbedMs)} against ${formatDuration(last.naiveMs)})`;
    const start =
      first.naiveMs >= first.absorbedMs
        ? `absorbed is ${times(first.naiveMs / first.absorbedMs)} faster at q_len ${first.qLen}`
        : `naive-latent already wins at q_len ${first.qLen}`;
    return {
      topic: 'mla-crossover',
      subject,
      where: describeShape(c.params, SHAPE_AXES),
      headline: `${answer}; ${start}.`,
      measured: true,
      numbers: c.points.flatMap((p) => [
        { label: `q_len ${p.qLen} naive-latent`, value: formatDuration(p.naiveMs) },
        { label: `q_len ${p.qLen} absorbed`, value: formatDuration(p.absorbedMs) },
      ]),
      sources: c.sources,
    } satisfies Finding;
  });
}

// ---------------------------------------------------------------------------------------------------------
// MoE: the GPU-resident dispatch against the per-expert host loop, per expert count (moe-dispatch suite)

const MOE_SUITE = 'moe-dispatch';

export function moeFindings(cases: readonly Measurement[]): Finding[] {
  const suite = cases.filter((c) => c.suite === MOE_SUITE);
  const subject = 'MoE dispatch';
  if (suite.length === 0) return [unmeasured('moe-dispatch', subject, suiteNotRun(MOE_SUITE))];
  const rest = (c: Measurement): string => JSON.stringify(Object.entries(c.params).filter(([axis]) => axis !== 'dispatch'));
  const timed = okCases(suite);
  const pairs = [...groupBy(timed, rest).values()].flatMap((group) => {
    const gpu = group.find((c) => c.params['dispatch'] === 'gpu');
    const loop = group.find((c) => c.params['dispatch'] === 'host-loop');
    return gpu && loop ? [{ gpu, loop, ratio: loop.timing.gpu.median / gpu.timing.gpu.median }] : [];
  });
  if (pairs.length === 0) {
    const sides = ['gpu', 'host-loop'].map((dispatch) => suite.filter((c) => c.params['dispatch'] === dispatch));
    const missing = sides
      .map((own, i) =>
        own.some((c) => c.status === 'ok') ? null : `${i ? 'host loop' : 'GPU dispatch'}: ${whyUnmeasured(own, 'not in this run')}`,
      )
      .filter((x): x is string => x !== null);
    return [
      unmeasured(
        'moe-dispatch',
        subject,
        missing.length ? missing.join('; ') : 'no GPU dispatch and host loop timed at the same shape',
        suite.filter((c) => c.status !== 'ok'),
      ),
    ];
  }
  const split = splitAxes(pairs.map((p) => p.gpu.params));
  const constant = new Map(split.constant);
  const context = ['preset', 'tokens']
    .filter((axis) => constant.has(axis))
    .map((axis) => (axis === 'tokens' ? `${constant.get(axis)} tokens` : String(constant.get(axis))));
  const byExperts = [...groupBy(pairs, (p) => String(p.gpu.params['experts'] ?? ''))];
  const ranges = byExperts.map(([experts, own]) => `${ratioRange(own.map((p) => p.ratio))}${experts ? ` at ${experts} experts` : ''}`);
  const ratios = pairs.map((p) => p.ratio);
  const verdict = ratios.every((r) => r > 1)
    ? 'the GPU-resident dispatch beats the per-expert host loop'
    : ratios.every((r) => r < 1)
      ? 'the per-expert host loop beats the GPU-resident dispatch'
      : 'neither the GPU-resident dispatch nor the per-expert host loop wins everywhere';
  const leftOut = suite.filter((c) => c.status === 'left-out').length;
  return [
    {
      topic: 'moe-dispatch',
      subject,
      where: context.length ? context.join(', ') : null,
      headline: `${verdict}: host loop / GPU time ${ranges.join(', ')}${leftOut ? ` (${leftOut} case${leftOut === 1 ? '' : 's'} left out by the budget)` : ''}.`,
      measured: true,
      numbers: pairs.map((p) => ({
        label: `host loop / GPU, ${Object.entries(p.gpu.params)
          .filter(([axis]) => split.varying.includes(axis) && axis !== 'dispatch')
          .map(([a, v]) => `${a}=${v}`)
          .join(' ')}`,
        value: `${p.ratio.toFixed(2)}x`,
      })),
      sources: pairs.flatMap((p) => [p.gpu.key, p.loop.key]),
    },
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Roofs: each headline kernel's % of its calibrated roof and what bounds it

interface Roofed {
  /** What names it in the finding: a variant, a preset ('' where one thing is measured). */
  name: string;
  key: string;
  rates: OkMeasurement['rates'];
  arithmetic: 'f32' | 'f16';
}

/** `63% of copy bandwidth (memory-bound)`; null without a calibrated ceiling for it. */
function roofOf(r: Roofed): { bound: string; fraction: number | null; roof: string } {
  const { bound, memoryFraction, computeFraction } = r.rates;
  if (bound === 'memory') return { bound, fraction: memoryFraction, roof: 'copy bandwidth' };
  if (bound === 'compute') return { bound, fraction: computeFraction, roof: `${r.arithmetic} FMA` };
  return { bound, fraction: null, roof: bound === 'overhead' ? 'dispatch overhead' : 'no calibrated ceiling' };
}

function describeRoofs(items: readonly Roofed[]): string {
  return [...groupBy(items, (r) => r.name)]
    .map(([name, own]) => {
      const parts = [...groupBy(own, (r) => roofOf(r).bound)].map(([bound, members]) => {
        const roof = roofOf(members[0]!);
        const fractions = members.map((m) => roofOf(m).fraction).filter((f): f is number => f !== null);
        const [lo, hi] = [formatPercent(Math.min(...fractions)), formatPercent(Math.max(...fractions))];
        const span = fractions.length === 0 ? '' : lo === hi ? hi : `${lo.slice(0, -1)}-${hi}`;
        const many = members.length > 1 ? `, ${members.length} shapes` : '';
        return bound === 'memory' || bound === 'compute' ? `${span} of ${roof.roof} (${bound}-bound${many})` : `${roof.roof}-bound${many}`;
      });
      return `${name ? `${name} ` : ''}${parts.join(', ')}`;
    })
    .join(', ');
}

const ROOF_SUITES = [
  ['attention-decode', 'Roof, decode attention'],
  ['attention-prefill', 'Roof, prefill attention'],
] as const;

export function roofFindings(cases: readonly Measurement[]): Finding[] {
  const out: Finding[] = [];
  for (const [suite, subject] of ROOF_SUITES) {
    const own = cases.filter((c) => c.suite === suite);
    const timed = okCases(own);
    if (timed.length === 0) {
      out.push(unmeasured('roof', subject, whyUnmeasured(own, suiteNotRun(suite)), own));
      continue;
    }
    const roofed = timed.map((c) => ({
      name: String(c.params['variant'] ?? ''),
      key: c.key,
      rates: c.rates,
      arithmetic: c.ceiling === 'fma-f16' ? ('f16' as const) : ('f32' as const),
    }));
    out.push(roofFinding(subject, timed, roofed));
  }
  // The absorbed attend: the kernel the absorption trick leans on, as a stage of absorbed decode.
  const absorbed = okCases(cases).filter((c) => c.suite === DECODE_SUITE && c.params['form'] === 'absorbed');
  const attends = absorbed.flatMap((c) => {
    const stage = c.stages?.find((s: StageTiming) => s.name === 'attend');
    return stage ? [{ c, stage }] : [];
  });
  if (attends.length === 0) {
    const own = cases.filter((c) => c.suite === DECODE_SUITE && c.params['form'] === 'absorbed');
    out.push(
      unmeasured(
        'roof',
        'Roof, absorbed MLA attend',
        own.length && absorbed.length
          ? 'absorbed decode was not timed stage by stage'
          : whyUnmeasured(
              own.filter((c) => c.status !== 'ok'),
              suiteNotRun(DECODE_SUITE),
            ),
        own,
      ),
    );
  } else {
    const roofed = attends.map(({ c, stage }) => ({
      name: String(c.params['preset'] ?? ''),
      key: c.key,
      rates: stage.rates,
      arithmetic: 'f32' as const,
    }));
    out.push(
      roofFinding(
        'Roof, absorbed MLA attend',
        attends.map((a) => a.c),
        roofed,
      ),
    );
  }
  return out;
}

function roofFinding(subject: string, cases: readonly OkMeasurement[], roofed: readonly Roofed[]): Finding {
  const split = splitAxes(cases.map((c) => c.params));
  const constant = Object.fromEntries(split.constant);
  const where = describeShape(constant, SHAPE_AXES);
  return {
    topic: 'roof',
    subject,
    where: where || null,
    headline: `${describeRoofs(roofed)}.`,
    measured: true,
    numbers: roofed.map((r) => {
      const roof = roofOf(r);
      return {
        label: r.key,
        value: roof.fraction === null ? `${roof.roof}-bound` : `${formatPercent(roof.fraction)} of ${roof.roof} (${roof.bound}-bound)`,
      };
    }),
    sources: roofed.map((r) => r.key),
  };
}
