import { UserError } from '../errors.js';
import {
  COMPARISON_OPS,
  MAX_AXIS_VALUES,
  isPowerOfTwo,
  pow2Length,
  rangeLength,
  type AxisSpec,
  type AxisValue,
  type ComparisonOp,
  type Profile,
  type SkipCondition,
  type SuiteFile,
  hasOwnKey,
} from './schema.js';

/** Refuses to plan sweeps this large: they come from an override typo, not from intent. */
export const MAX_CASES = 1_000_000;

export interface AxisOverride {
  axis: string;
  values: AxisValue[];
}

export interface PlannedCase {
  suite: string;
  params: Record<string, AxisValue>;
  /** `suite/axis1=v1,axis2=v2` with axes in the suite's declared order. */
  key: string;
  /** Why the case is recorded without running, when a skip rule matches. */
  skip?: string;
  /** A case behind the README's tables and findings (the suite's headline rules): first after calibration. */
  headline?: true;
}

export interface ExpandOptions {
  profile: Profile;
  overrides?: AxisOverride[];
  filter?: string;
  dtypes?: string[];
}

export function expandRange(start: number, stop: number, step: number): number[] {
  const count = rangeLength(start, stop, step);
  // start + i * step rather than repeated addition, so float steps do not accumulate error.
  return Array.from({ length: count }, (_, i) => start + i * step);
}

export function expandPow2(from: number, to: number): number[] {
  return Array.from({ length: pow2Length(from, to) }, (_, i) => from * 2 ** i);
}

export function expandAxis(spec: AxisSpec): AxisValue[] {
  if (Array.isArray(spec)) return [...spec];
  if ('pow2' in spec) return expandPow2(spec.pow2[0], spec.pow2[1]);
  return expandRange(spec.range[0], spec.range[1], spec.range[2]);
}

const NUMBER_TOKEN = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A CLI token as an axis value: a number when it is written as a finite decimal number, else the string itself. */
export function parseAxisToken(token: string): AxisValue {
  if (NUMBER_TOKEN.test(token)) {
    const value = Number(token);
    if (Number.isFinite(value)) return value;
  }
  return token;
}

function parseNumberToken(token: string, text: string, what: string): number {
  const value = parseAxisToken(token);
  if (typeof value !== 'number') throw new UserError(`axis override "${text}": ${what} "${token}" is not a number`);
  return value;
}

function parseOverrideValues(valuesText: string, text: string): AxisValue[] {
  const malformed = (why: string): UserError =>
    new UserError(`axis override "${text}": ${why}; expected name=v1,v2,..., name=start:stop[:step] or name=pow2:from:to`);

  if (valuesText.includes(':')) {
    if (valuesText.includes(',')) throw malformed('a range cannot be combined with a comma list');
    const parts = valuesText.split(':');
    if (parts[0] === 'pow2') {
      if (parts.length !== 3) throw malformed('pow2 needs exactly two bounds');
      const from = parseNumberToken(parts[1]!, text, 'pow2 bound');
      const to = parseNumberToken(parts[2]!, text, 'pow2 bound');
      if (!isPowerOfTwo(from) || !isPowerOfTwo(to)) throw malformed(`pow2 bounds must be powers of two, got ${from} and ${to}`);
      if (from > to) throw malformed(`pow2 bounds must satisfy from <= to, got ${from} and ${to}`);
      return expandPow2(from, to);
    }
    if (parts.length < 2 || parts.length > 3) throw malformed('a range is start:stop or start:stop:step');
    const start = parseNumberToken(parts[0]!, text, 'range start');
    const stop = parseNumberToken(parts[1]!, text, 'range stop');
    const step = parts[2] === undefined ? 1 : parseNumberToken(parts[2], text, 'range step');
    if (!(step > 0)) throw malformed(`range step must be > 0, got ${step}`);
    if (start > stop) throw malformed(`range start must be <= stop, got ${start} > ${stop}`);
    if (rangeLength(start, stop, step) > MAX_AXIS_VALUES) throw malformed(`range yields more than ${MAX_AXIS_VALUES} values`);
    return expandRange(start, stop, step);
  }

  const tokens = valuesText.split(',').map((token) => token.trim());
  if (tokens.some((token) => token === '')) throw malformed('empty value in the list');
  const values = tokens.map(parseAxisToken);
  const seen = new Set<string>();
  for (const value of values) {
    if (seen.has(String(value))) throw malformed(`value "${value}" is listed twice`);
    seen.add(String(value));
  }
  return values;
}

/** Parses a CLI `-a name=values` axis override. */
export function parseAxisOverride(text: string): AxisOverride {
  const equals = text.indexOf('=');
  if (equals < 0) {
    throw new UserError(`axis override "${text}" has no "="; expected name=values, e.g. context=512,1024`);
  }
  const axis = text.slice(0, equals).trim();
  const valuesText = text.slice(equals + 1).trim();
  if (axis === '') throw new UserError(`axis override "${text}" has an empty axis name; expected name=values`);
  if (valuesText === '') throw new UserError(`axis override "${text}" has no values; expected name=values`);
  return { axis, values: parseOverrideValues(valuesText, text) };
}

/** The value list of every axis after profile, dtypes and overrides, in declared axis order. */
export function resolveAxes(suite: SuiteFile, opts: ExpandOptions): Map<string, AxisValue[]> {
  const axisNames = Object.keys(suite.axes);
  const profileAxes = suite.profiles?.[opts.profile]?.axes ?? {};
  const resolved = new Map<string, AxisValue[]>();
  for (const name of axisNames) {
    resolved.set(name, expandAxis(hasOwnKey(profileAxes, name) ? profileAxes[name]! : suite.axes[name]!));
  }

  if (opts.dtypes !== undefined && resolved.has('dtype')) {
    if (opts.dtypes.length === 0) throw new UserError(`empty dtype list for suite ${suite.name}`);
    resolved.set('dtype', [...opts.dtypes]);
  }

  // Overrides come last: naming an axis explicitly is the most specific request, so it also beats dtypes.
  const declared = new Map(resolved);
  const overridden = new Set<string>();
  for (const override of opts.overrides ?? []) {
    if (!resolved.has(override.axis)) {
      throw new UserError(`unknown axis "${override.axis}" for suite ${suite.name}; axes: ${axisNames.join(', ')}`);
    }
    if (overridden.has(override.axis)) {
      throw new UserError(`axis "${override.axis}" is overridden more than once for suite ${suite.name}`);
    }
    if (override.values.length === 0) {
      throw new UserError(`axis override for "${override.axis}" has no values (suite ${suite.name})`);
    }
    overridden.add(override.axis);
    resolved.set(override.axis, [...override.values]);
  }
  for (const group of suite.zip ?? []) crossPartialOverride(suite.name, group, declared, resolved, overridden);
  return resolved;
}

/**
 * A zip group some of whose axes were overridden: the overridden axes advance together (equal lengths, or one
 * value that goes with each of the others'), and each of their points takes the group's other axes from the
 * suite's points that agree with it best (agreement on an earlier declared axis outweighs any later ones; where
 * none agrees, from every point). So `-a op=absorb-q -a rows=1` on gemm's (op, model, rows, batch) keeps
 * absorb-q's model and batch, and `-a batch=4` on mla-decode's (batch, context, page_size) is batch 4 at each
 * (context, page_size) pair. A group overridden whole zips as declared.
 */
function crossPartialOverride(
  suiteName: string,
  group: readonly string[],
  declared: ReadonlyMap<string, AxisValue[]>,
  resolved: Map<string, AxisValue[]>,
  overridden: ReadonlySet<string>,
): void {
  const axes = group.filter((axis) => resolved.has(axis));
  const named = axes.filter((axis) => overridden.has(axis));
  const rest = axes.filter((axis) => !overridden.has(axis));
  if (named.length === 0 || rest.length === 0) return;
  const lengths = named.map((axis) => resolved.get(axis)!.length);
  const length = Math.max(...lengths);
  if (lengths.some((l) => l !== 1 && l !== length)) {
    const detail = named.map((axis, i) => `${axis}: ${lengths[i]}`).join(', ');
    throw new UserError(`zipped axes of suite ${suiteName} overridden together must have equal lengths (or one value), got ${detail}`);
  }
  const valueOf = (axis: string, i: number): AxisValue => {
    const values = resolved.get(axis)!;
    return values[values.length === 1 ? 0 : i]!;
  };
  const points = declared.get(axes[0]!)!.map((_, j) => ({
    named: named.map((axis) => declared.get(axis)![j]!),
    rest: rest.map((axis) => declared.get(axis)![j]!),
  }));
  const crossed: Array<{ values: AxisValue[]; tuple: AxisValue[] }> = [];
  for (let i = 0; i < length; i++) {
    const values = named.map((axis) => valueOf(axis, i));
    const scores = points.map((p) => p.named.reduce((score: number, v, x) => score + (v === values[x] ? 2 ** (named.length - x) : 0), 0));
    const best = Math.max(...scores);
    const tuples = new Map(points.filter((_, j) => scores[j] === best).map((p) => [JSON.stringify(p.rest), p.rest]));
    for (const tuple of tuples.values()) crossed.push({ values, tuple });
  }
  named.forEach((axis, x) => resolved.set(axis, crossed.map((c) => c.values[x]!)));
  rest.forEach((axis, r) => resolved.set(axis, crossed.map((c) => c.tuple[r]!)));
}

/** One step of the product: a single axis, or a zip group whose axes advance together. */
interface ExpansionUnit {
  axes: string[];
  length: number;
}

function expansionUnits(suite: SuiteFile, resolved: Map<string, AxisValue[]>): ExpansionUnit[] {
  const groups = suite.zip ?? [];
  const units: ExpansionUnit[] = [];
  const placed = new Set<string>();
  for (const name of resolved.keys()) {
    if (placed.has(name)) continue;
    const group = groups.find((candidate) => candidate.includes(name)) ?? [name];
    // The group takes the place of its earliest declared axis; its axes keep declared order.
    const axes = [...resolved.keys()].filter((axis) => group.includes(axis));
    const lengths = axes.map((axis) => resolved.get(axis)!.length);
    if (new Set(lengths).size > 1) {
      const detail = axes.map((axis, i) => `${axis}: ${lengths[i]}`).join(', ');
      throw new UserError(
        `zipped axes of suite ${suite.name} must have equal lengths, got ${detail}`,
      );
    }
    axes.forEach((axis) => placed.add(axis));
    units.push({ axes, length: lengths[0] ?? 0 });
  }
  return units;
}

export function caseKey(suite: string, params: Record<string, AxisValue>): string {
  return `${suite}/${Object.entries(params)
    .map(([axis, value]) => `${axis}=${value}`)
    .join(',')}`;
}

/** `kernel=copy dtype=f32` */
export function describeCase(params: Record<string, AxisValue>): string {
  return Object.entries(params)
    .map(([axis, value]) => `${axis}=${value}`)
    .join(' ');
}

function compare(value: AxisValue, op: ComparisonOp, target: AxisValue): boolean {
  if (op === 'eq') return value === target;
  if (op === 'ne') return value !== target;
  // Ordering is only defined between numbers; a string on either side never matches.
  if (typeof value !== 'number' || typeof target !== 'number') return false;
  switch (op) {
    case 'gt':
      return value > target;
    case 'ge':
      return value >= target;
    case 'lt':
      return value < target;
    case 'le':
      return value <= target;
  }
}

export function conditionMatches(condition: SkipCondition, axis: string, params: Record<string, AxisValue>): boolean {
  if (!hasOwnKey(params, axis)) return false;
  const value = params[axis]!;
  if (Array.isArray(condition)) return condition.includes(value);
  if (typeof condition !== 'object') return value === condition;
  return COMPARISON_OPS.every((op) => {
    const target = condition[op];
    if (target === undefined) return true;
    const targetValue = typeof target === 'string' ? (hasOwnKey(params, target) ? params[target] : undefined) : target;
    return targetValue !== undefined && compare(value, op, targetValue);
  });
}

export function skipReason(suite: SuiteFile, params: Record<string, AxisValue>): string | undefined {
  const rule = suite.skip?.find((candidate) =>
    Object.entries(candidate.when).every(([axis, condition]) => conditionMatches(condition, axis, params)),
  );
  return rule?.reason;
}

export function isHeadline(suite: SuiteFile, params: Record<string, AxisValue>): boolean {
  return (suite.headline ?? []).some((when) => Object.entries(when).every(([axis, condition]) => conditionMatches(condition, axis, params)));
}

/**
 * A filter with "=" is a comma list of axis=value pairs that must all match;
 * any other filter is a substring of the case key.
 */
export function caseFilter(filter: string): (planned: PlannedCase) => boolean {
  if (!filter.includes('=')) return (planned) => planned.key.includes(filter);
  const pairs = filter.split(',').map((pair) => {
    const equals = pair.indexOf('=');
    const axis = pair.slice(0, equals).trim();
    const valueText = pair.slice(equals + 1).trim();
    if (equals < 0 || axis === '' || valueText === '') {
      throw new UserError(`filter "${filter}": "${pair}" is not axis=value; use axis=value[,axis=value...] or a key substring`);
    }
    return { axis, valueText, value: parseAxisToken(valueText) };
  });
  return (planned) =>
    pairs.every(({ axis, valueText, value }) => {
      const actual = hasOwnKey(planned.params, axis) ? planned.params[axis] : undefined;
      return actual !== undefined && (actual === value || String(actual) === valueText);
    });
}

export function expandSuite(suite: SuiteFile, opts: ExpandOptions): PlannedCase[] {
  const resolved = resolveAxes(suite, opts);
  const units = expansionUnits(suite, resolved);
  const total = units.reduce((product, unit) => product * unit.length, 1);
  if (total > MAX_CASES) {
    throw new UserError(`suite ${suite.name} expands to ${total} cases, more than the limit of ${MAX_CASES}; narrow the axes`);
  }
  const keep = opts.filter === undefined ? () => true : caseFilter(opts.filter);

  const cases: PlannedCase[] = [];
  // Odometer over the units: the last unit turns fastest, so the first declared axis is the slowest.
  const positions = units.map(() => 0);
  for (let n = 0; n < total; n++) {
    const chosen = new Map<string, AxisValue>();
    units.forEach((unit, unitIndex) => {
      for (const axis of unit.axes) chosen.set(axis, resolved.get(axis)![positions[unitIndex]!]!);
    });
    const params: Record<string, AxisValue> = {};
    for (const axis of resolved.keys()) params[axis] = chosen.get(axis)!;

    const planned: PlannedCase = { suite: suite.name, params, key: caseKey(suite.name, params) };
    const reason = skipReason(suite, params);
    if (reason !== undefined) planned.skip = reason;
    if (isHeadline(suite, params)) planned.headline = true;
    if (keep(planned)) cases.push(planned);

    for (let unitIndex = units.length - 1; unitIndex >= 0; unitIndex--) {
      positions[unitIndex]! += 1;
      if (positions[unitIndex]! < units[unitIndex]!.length) break;
      positions[unitIndex] = 0;
    }
  }
  return cases;
}
