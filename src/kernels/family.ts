import type { DeviceLimits, PrivateMemory, WantedFeature } from '../core/device-facts.js';
import type { AxisValue } from '../core/numbers.js';
import type { KernelCase } from './spec.js';
import type { PlanOverrides } from './tunable.js';

export interface BuildContext {
  limits: DeviceLimits;
  features: ReadonlySet<WantedFeature>;
  /** Smallest subgroup the adapter may run (with the subgroups feature); kernels that trade lanes need it. */
  subgroupMinSize?: number;
  /**
   * Where an invocation's private arrays live: a GPU's register file (past it they spill or cut occupancy) or, on a
   * CPU adapter, the stack of the thread that runs the workgroup (no such cliff). Default: registers.
   */
  privateMemory?: PrivateMemory;
  /** Seed for the case's inputs: the same case always sees the same data. */
  seed: number;
  /** Plans for some of the case's tunable slots, taken as given (a tuner's candidate, a tuning file's entry). */
  plans?: PlanOverrides;
}

/** A case that is not built, and why. */
export interface Skip {
  kind: 'skip';
  reason: string;
}

export type BuildResult = { kind: 'case'; kernelCase: KernelCase } | Skip;

/** A kernel family turns one point of a suite's sweep into a declarative case. */
export interface KernelFamily {
  name: string;
  /** Axes a suite of this family must declare. */
  requiredAxes: string[];
  /** Axes that pick a variant of the same problem (e.g. a dispatch strategy): left out of the input seed, so the variants see the same data. */
  inputInvariantAxes?: string[];
  build(params: Record<string, AxisValue>, context: BuildContext): BuildResult;
  /**
   * Why a case cannot be declared without its data (its buffers' sizes follow the data, as MoE's follow its routing),
   * so that planning for another device (`list --limits`) leaves the family out rather than generate it; absent: cases
   * are declarations, their data made when first read.
   */
  sizedByData?: string;
}

export function numberParam(params: Record<string, AxisValue>, name: string): number {
  const value = params[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(`axis ${name} must be a number, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function stringParam<T extends string>(params: Record<string, AxisValue>, name: string, allowed: readonly T[]): T {
  const value = params[name];
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new Error(`axis ${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

/** An optional numeric axis: `fallback` where the suite leaves it out. */
export function optionalNumber(params: Record<string, AxisValue>, name: string, fallback: number): number {
  return params[name] === undefined ? fallback : numberParam(params, name);
}

/** An optional string axis: `fallback` where the suite leaves it out. */
export function optionalString<T extends string>(params: Record<string, AxisValue>, name: string, allowed: readonly T[], fallback: T): T {
  return params[name] === undefined ? fallback : stringParam(params, name, allowed);
}

/** Splits a 1-D grid of workgroups into x*y within the per-dimension limit. */
export function grid2d(workgroups: number, maxPerDimension: number): [number, number] {
  const x = Math.min(Math.max(1, workgroups), maxPerDimension);
  return [x, Math.ceil(workgroups / x)];
}

/** What a case's input seed is derived from: its key, without the family's input-invariant axes. */
export function seedKey(
  family: Pick<KernelFamily, 'inputInvariantAxes'>,
  suite: string,
  key: string,
  params: Record<string, AxisValue>,
): string {
  const invariant = family.inputInvariantAxes;
  if (!invariant?.length) return key;
  const kept = Object.entries(params).filter(([axis]) => !invariant.includes(axis));
  return `${suite}/${kept.map(([axis, value]) => `${axis}=${value}`).join(',')}`;
}
