import type { AxisValue } from '../core/numbers.js';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { UserError } from '../errors.js';

export const PROFILES = ['quick', 'standard', 'full'] as const;
export type Profile = (typeof PROFILES)[number];
export type { AxisValue };

/** An axis that expands to more values than this is almost certainly a typo (e.g. a range step of 1 over 1..1e9). */
export const MAX_AXIS_VALUES = 10_000;

// Axis names start with a letter so that JSON.parse keeps them in declared order (integer-like keys are hoisted),
// contain no ',', '=' or '/' so that case keys and filters stay unambiguous, and are never a name every object
// inherits (`constructor`, `toString`, `__proto__`): axes live in plain records keyed by name.
const AXIS_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const AXIS_NAME_RULE = 'axis names must start with a lowercase letter and contain only lowercase letters, digits and "_" (at most 64)';

export function isAxisName(name: string): boolean {
  return AXIS_NAME.test(name) && !(name in Object.prototype);
}

/** Whether `record` (axes, params, a skip rule's conditions) has its own entry `name`, never an inherited one. */
export function hasOwnKey(record: object, name: string): boolean {
  return Object.hasOwn(record, name);
}
const STRING_AXIS_VALUE = /^[^\s,=]+$/;

export const AxisValueSchema = z.union([
  z.number(),
  z.string().regex(STRING_AXIS_VALUE, 'string values must be non-empty and contain no whitespace, "," or "="'),
]);

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && Number.isInteger(Math.log2(n)) && 2 ** Math.log2(n) === n;
}

/** How many values an inclusive range yields; tolerates float steps such as 0.1 that do not land exactly on stop. */
export function rangeLength(start: number, stop: number, step: number): number {
  return Math.floor((stop - start) / step + 1e-9) + 1;
}

export function pow2Length(from: number, to: number): number {
  return Math.log2(to) - Math.log2(from) + 1;
}

function duplicateValue(values: AxisValue[]): AxisValue | undefined {
  const seen = new Set<string>();
  for (const value of values) {
    const text = String(value);
    if (seen.has(text)) return value;
    seen.add(text);
  }
  return undefined;
}

// Duplicates are checked per suite (a zipped axis may repeat a value: its tuples must not repeat).
const AxisListSchema = z.array(AxisValueSchema).min(1, 'a list of axis values needs at least one value');

const Pow2Schema = z
  .strictObject({ pow2: z.tuple([z.number(), z.number()]) })
  .superRefine(({ pow2: [from, to] }, ctx) => {
    if (!isPowerOfTwo(from) || !isPowerOfTwo(to)) {
      ctx.addIssue({ code: 'custom', message: `pow2 bounds must be powers of two, got [${from}, ${to}]` });
    } else if (from > to) {
      ctx.addIssue({ code: 'custom', message: `pow2 bounds must satisfy from <= to, got [${from}, ${to}]` });
    }
  });

const RangeSchema = z
  .strictObject({ range: z.tuple([z.number(), z.number(), z.number()]) })
  .superRefine(({ range: [start, stop, step] }, ctx) => {
    if (!(step > 0)) {
      ctx.addIssue({ code: 'custom', message: `range step must be > 0, got ${step}` });
    } else if (start > stop) {
      ctx.addIssue({ code: 'custom', message: `range start must be <= stop, got [${start}, ${stop}, ${step}]` });
    } else if (rangeLength(start, stop, step) > MAX_AXIS_VALUES) {
      ctx.addIssue({ code: 'custom', message: `range [${start}, ${stop}, ${step}] yields more than ${MAX_AXIS_VALUES} values` });
    }
  });

export const AxisSpecSchema = z.union([AxisListSchema, Pow2Schema, RangeSchema], {
  error: 'an axis must be a list of numbers or strings, {"pow2": [from, to]} or {"range": [start, stop, step]}',
});
export type AxisSpec = z.infer<typeof AxisSpecSchema>;

export function axisLength(spec: AxisSpec): number {
  if (Array.isArray(spec)) return spec.length;
  if ('pow2' in spec) return pow2Length(spec.pow2[0], spec.pow2[1]);
  return rangeLength(spec.range[0], spec.range[1], spec.range[2]);
}

export const AxesSchema = z.record(z.string(), AxisSpecSchema);

export const COMPARISON_OPS = ['gt', 'ge', 'lt', 'le', 'eq', 'ne'] as const;
export type ComparisonOp = (typeof COMPARISON_OPS)[number];

/** A target that is a string names another axis, whose value in the same case is compared against. */
const ComparisonTargetSchema = z.union([z.number(), z.string()]);

export const ComparisonSchema = z
  .strictObject({
    gt: ComparisonTargetSchema.optional(),
    ge: ComparisonTargetSchema.optional(),
    lt: ComparisonTargetSchema.optional(),
    le: ComparisonTargetSchema.optional(),
    eq: ComparisonTargetSchema.optional(),
    ne: ComparisonTargetSchema.optional(),
  })
  .refine((comparison) => COMPARISON_OPS.some((op) => comparison[op] !== undefined), {
    message: `a comparison needs at least one of ${COMPARISON_OPS.join(', ')}`,
  });
export type Comparison = z.infer<typeof ComparisonSchema>;

/** A value (equal), a list (any of) or a comparison (all of its ops hold). */
export const SkipConditionSchema = z.union([AxisValueSchema, z.array(AxisValueSchema).min(1), ComparisonSchema], {
  error: 'a skip condition must be a value, a non-empty list of values or a comparison such as {"gt": "context"}',
});
export type SkipCondition = z.infer<typeof SkipConditionSchema>;

export const SkipRuleSchema = z.strictObject({
  when: z.record(z.string(), SkipConditionSchema).refine((when) => Object.keys(when).length > 0, {
    message: 'a skip rule needs at least one condition',
  }),
  reason: z.string().min(1, 'a skip rule needs a reason'),
});
export type SkipRule = z.infer<typeof SkipRuleSchema>;

export const HeadlineRuleSchema = z.record(z.string(), SkipConditionSchema);
export type HeadlineRule = z.infer<typeof HeadlineRuleSchema>;

export const ProfileSchema = z.enum(PROFILES);

export const ProfileOverridesSchema = z.strictObject({ axes: AxesSchema });

export const SuiteFileSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'suite names must match /^[a-z0-9][a-z0-9-]*$/'),
    description: z.string(),
    family: z.string().min(1, 'family must not be empty'),
    axes: AxesSchema,
    zip: z.array(z.array(z.string()).min(2, 'a zip group needs at least two axes')).optional(),
    profiles: z
      .strictObject({
        quick: ProfileOverridesSchema.optional(),
        standard: ProfileOverridesSchema.optional(),
        full: ProfileOverridesSchema.optional(),
      })
      .optional(),
    skip: z.array(SkipRuleSchema).optional(),
    /**
     * The cases behind the README's tables and findings: a case matching any of these conditions (as a skip
     * rule's `when`; `{}` matches every case) runs right after calibration in a budgeted run.
     */
    headline: z.array(HeadlineRuleSchema).optional(),
    /**
     * false: each case is built, run once and checked against the reference, and its memory recorded, but not
     * timed (status "checked"): for suites whose answer is an allocation, not a time (kv-cache).
     */
    timed: z.boolean().optional(),
  })
  .superRefine((suite, ctx) => {
    const check: SuiteCheck = {
      suite,
      axisList: Object.keys(suite.axes).join(', '),
      groupOfAxis: new Map(),
      report: (path, message) => ctx.addIssue({ code: 'custom', path, message }),
    };
    checkAxes(check);
    checkZipGroups(check);
    checkDuplicates(check, suite.axes, Object.keys(suite.axes), []);
    checkZipLengths(check, suite.axes, []);
    checkProfiles(check);
    checkRules(check);
  });

export type SuiteFile = z.infer<typeof SuiteFileSchema>;

/** What the suite-file checks share: the suite as parsed, its axes in words, zip membership and the issue sink. */
interface SuiteCheck {
  suite: SuiteFile;
  axisList: string;
  /** Which zip group each zipped axis is in (filled by checkZipGroups). */
  groupOfAxis: Map<string, number>;
  report(path: PropertyKey[], message: string): void;
}

function checkAxes({ suite, report }: SuiteCheck): void {
  const axisNames = Object.keys(suite.axes);
  if (axisNames.length === 0) report(['axes'], 'a suite needs at least one axis');
  for (const name of axisNames) {
    if (!isAxisName(name)) report(['axes', name], `${AXIS_NAME_RULE}, and not a built-in object property; got "${name}"`);
  }
  for (const [name, spec] of Object.entries(suite.axes)) {
    if (axisLength(spec) > MAX_AXIS_VALUES) report(['axes', name], `expands to more than ${MAX_AXIS_VALUES} values`);
  }
}

function checkZipGroups({ suite, axisList, groupOfAxis, report }: SuiteCheck): void {
  (suite.zip ?? []).forEach((group, groupIndex) => {
    group.forEach((name, nameIndex) => {
      if (!hasOwnKey(suite.axes, name)) {
        report(['zip', groupIndex, nameIndex], `unknown axis "${name}"; axes: ${axisList}`);
        return;
      }
      const previous = groupOfAxis.get(name);
      if (previous !== undefined) {
        report(['zip', groupIndex, nameIndex], `axis "${name}" is already in zip group ${previous}`);
        return;
      }
      groupOfAxis.set(name, groupIndex);
    });
  });
}

/** A value listed twice is a typo, except in a zipped axis, whose hand-picked points are the group's tuples. */
function checkDuplicates({ suite, groupOfAxis, report }: SuiteCheck, axes: Record<string, AxisSpec>, names: readonly string[], path: PropertyKey[]): void {
  for (const name of names) {
    const spec = axes[name];
    if (groupOfAxis.has(name) || !Array.isArray(spec)) continue;
    const duplicate = duplicateValue(spec);
    if (duplicate !== undefined) report([...path, 'axes', name], `value ${JSON.stringify(duplicate)} is listed twice`);
  }
  (suite.zip ?? []).forEach((group, groupIndex) => {
    const lists = group.map((name) => (hasOwnKey(axes, name) ? axes[name] : undefined));
    if (!lists.every((list): list is AxisValue[] => Array.isArray(list)) || new Set(lists.map((list) => list.length)).size > 1) return;
    const tuples = lists[0]!.map((_, i) => group.map((name, g) => `${name}=${lists[g]![i]}`).join(', '));
    const duplicate = duplicateValue(tuples);
    if (duplicate !== undefined) report([...path, 'zip', groupIndex], `the zipped values (${duplicate}) are listed twice`);
  });
}

function checkZipLengths({ suite, report }: SuiteCheck, axes: Record<string, AxisSpec>, path: PropertyKey[]): void {
  (suite.zip ?? []).forEach((group, groupIndex) => {
    const lengths = group.filter((name) => hasOwnKey(axes, name)).map((name) => `${name}: ${axisLength(axes[name]!)}`);
    const distinct = new Set(group.filter((name) => hasOwnKey(axes, name)).map((name) => axisLength(axes[name]!)));
    if (distinct.size > 1) report([...path, 'zip', groupIndex], `zipped axes must have equal lengths, got ${lengths.join(', ')}`);
  });
}

function checkProfiles(check: SuiteCheck): void {
  const { suite, axisList, report } = check;
  for (const profile of PROFILES) {
    const profileAxes = suite.profiles?.[profile]?.axes;
    if (profileAxes === undefined) continue;
    for (const name of Object.keys(profileAxes)) {
      if (!hasOwnKey(suite.axes, name)) report(['profiles', profile, 'axes', name], `unknown axis "${name}"; axes: ${axisList}`);
    }
    // Reported under the profile so that the author knows which profile breaks the lockstep.
    checkZipLengths(check, { ...suite.axes, ...profileAxes }, ['profiles', profile]);
    checkDuplicates(check, { ...suite.axes, ...profileAxes }, Object.keys(profileAxes), ['profiles', profile]);
  }
}

/** Skip rules and headline rules name axes (and comparison targets) the suite has. */
function checkRules({ suite, axisList, report }: SuiteCheck): void {
  const rules = [
    ...(suite.skip ?? []).map((rule, ruleIndex) => ({ when: rule.when, path: ['skip', ruleIndex, 'when'] })),
    ...(suite.headline ?? []).map((when, ruleIndex) => ({ when, path: ['headline', ruleIndex] })),
  ];
  for (const { when, path: rulePath } of rules) {
    for (const [name, condition] of Object.entries(when)) {
      const path = [...rulePath, name];
      if (!hasOwnKey(suite.axes, name)) {
        report(path, `unknown axis "${name}"; axes: ${axisList}`);
        continue;
      }
      if (typeof condition !== 'object' || Array.isArray(condition)) continue;
      for (const op of COMPARISON_OPS) {
        const target = condition[op];
        if (typeof target === 'string' && !hasOwnKey(suite.axes, target)) {
          report([...path, op], `comparison target "${target}" is not an axis; axes: ${axisList}`);
        }
      }
    }
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`))
    .join('');
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const part of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

/**
 * The most specific problem behind an issue. A union that fails every branch reports one issue per branch;
 * the branch that got deepest into the value is the one the author most likely meant, unless it only got
 * there by asking for a key the value does not have (`{"range": ...}` is not a broken `pow2`).
 */
function mostSpecific(issue: z.core.$ZodIssue, input: unknown, prefix: PropertyKey[]): { path: PropertyKey[]; message: string } {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'invalid_union') {
    let best: { path: PropertyKey[]; message: string } | undefined;
    for (const branch of issue.errors) {
      const first = branch[0];
      if (first === undefined) continue;
      const candidate = mostSpecific(first, input, path);
      const reachesIntoValue = valueAt(input, candidate.path) !== undefined;
      if (reachesIntoValue && candidate.path.length > (best?.path.length ?? path.length)) best = candidate;
    }
    if (best !== undefined) return best;
  }
  return { path, message: issue.message };
}

/**
 * The path of a `__proto__` key anywhere in parsed JSON. JSON.parse keeps it as an own key, but any copy made
 * by assignment (zod's records among them) turns it into a prototype change, so the entry would vanish.
 */
function protoKeyPath(value: unknown, path: PropertyKey[] = []): PropertyKey[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (!Array.isArray(value) && Object.hasOwn(value, '__proto__')) return [...path, '__proto__'];
  for (const [key, child] of Object.entries(value)) {
    const found = protoKeyPath(child, [...path, Array.isArray(value) ? Number(key) : key]);
    if (found) return found;
  }
  return undefined;
}

export function parseSuiteFile(json: unknown, fileName: string): SuiteFile {
  const proto = protoKeyPath(json);
  if (proto) throw new UserError(`${fileName}: ${formatPath(proto)}: "__proto__" is not allowed as a name`);
  const result = SuiteFileSchema.safeParse(json);
  if (result.success) return result.data;
  const first = result.error.issues[0];
  if (first === undefined) throw new UserError(`${fileName}: invalid suite file`);
  const { path, message } = mostSpecific(first, json, []);
  const where = path.length > 0 ? `${formatPath(path)}: ` : '';
  throw new UserError(`${fileName}: ${where}${message.replace(/\s*\n\s*/g, ' ')}`);
}

export function loadSuiteFile(path: string): SuiteFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new UserError(`${path}: cannot read suite file (${code})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UserError(`${path}: malformed JSON: ${(error as Error).message}`);
  }
  return parseSuiteFile(json, path);
}
