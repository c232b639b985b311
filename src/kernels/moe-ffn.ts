import type { MoeInputs } from '../reference/moe.js';
import {
  describePlan,
  emitGemm,
  gemmRowsLaunch,
  gemmSlot,
  gemmWork,
  planDefect,
  planGemm,
  preferredKinds,
  unitColumns,
  type GemmDevice,
  type GemmPlan,
  type GemmProblem,
  type GemmTiling,
} from './gemm.js';
import type { BufferDecl, Dtype, StageDecl, TailDispatch } from './spec.js';
import { overrideOf, type PlanOverrides, type TunableSlot } from './tunable.js';

/**
 * The MoE expert FFN on the GEMM family: gate and up as one GEMM with the SwiGLU epilogue over weights stored side by
 * side ([k][gate | up], each part padded to a 16-byte unit), then down; the routed experts grouped over the padded
 * layout (B per block from block_expert, rows bounded by padded_total, padding rows by the sorted_ids sentinel), or
 * one plain GEMM per expert for the host loop; the shared experts as plain GEMMs over the tokens.
 */

/** What the FFN needs of a step: sizes, the layout's capacity, the plan's block and the device. */
export interface FfnContext {
  hidden: number;
  inter: number;
  experts: number;
  tokens: number;
  pairs: number;
  sharedInter: number;
  capacity: number;
  block: number;
  dtype: Dtype;
  device: GemmDevice;
  tiling: GemmTiling;
  plans?: PlanOverrides;
}

/** Columns from a gate column to its up column in the side-by-side weights: inter, padded to a 16-byte unit. */
export const pairOffset = (inter: number, dtype: Dtype): number => Math.ceil(inter / unitColumns(dtype)) * unitColumns(dtype);

/** Gate and up [mats][k][n] side by side per matrix: [mats][k][gate n | pad | up n | pad], `pair` columns apart. */
export function sideBySide(gate: Float32Array, up: Float32Array, mats: number, k: number, n: number, pair: number): Float32Array {
  const out = new Float32Array(mats * k * 2 * pair);
  for (let row = 0; row < mats * k; row++) {
    out.set(gate.subarray(row * n, (row + 1) * n), row * 2 * pair);
    out.set(up.subarray(row * n, (row + 1) * n), row * 2 * pair + pair);
  }
  return out;
}

/** The FFN's weight buffers' contents (the side-by-side gate-up of the routed and shared experts). */
export function ffnWeights(f: FfnContext, inputs: MoeInputs): { wGateUp: Float32Array; sGateUp: Float32Array } {
  return {
    wGateUp: sideBySide(inputs.wGate, inputs.wUp, f.experts, f.hidden, f.inter, pairOffset(f.inter, f.dtype)),
    sGateUp: sideBySide(inputs.sGate, inputs.sUp, 1, f.hidden, f.sharedInter, pairOffset(f.sharedInter, f.dtype)),
  };
}

/** Elements of the routed experts' side-by-side gate-up weights. */
export const gateUpLength = (f: Pick<FfnContext, 'experts' | 'hidden' | 'inter' | 'dtype'>): number =>
  f.experts * f.hidden * 2 * pairOffset(f.inter, f.dtype);

/** An expert FFN's two products: activation rows -> act (SwiGLU), act -> output rows. */
interface FfnProblems {
  gateUp: GemmProblem;
  down: GemmProblem;
}

/** Rows `first` .. `first + rows - 1` of a [rows][width] buffer. */
const rowsOf = (buffer: string, width: number, first = 0) => ({ buffer, rows: { offset: first * width, rowStride: width } });

/** The routed experts' FFN over `rows` rows from row `first` of the padded layout, B from expert `expert`'s weights. */
function routedProblems(f: FfnContext, rows: number, first: number, expert: number): FfnProblems {
  const pair = pairOffset(f.inter, f.dtype);
  const base = { batch: 1, dtype: f.dtype, m: rows };
  return {
    gateUp: {
      ...base,
      n: f.inter,
      k: f.hidden,
      a: rowsOf('xp', f.hidden, first),
      b: { buffer: 'w_gate_up', rows: { offset: expert * f.hidden * 2 * pair, rowStride: 2 * pair } },
      c: rowsOf('act', f.inter, first),
      epilogue: { kind: 'swiglu', pair },
    },
    down: {
      ...base,
      n: f.hidden,
      k: f.inter,
      a: rowsOf('act', f.inter, first),
      b: { buffer: 'w_down', rows: { offset: expert * f.inter * f.hidden, rowStride: f.hidden } },
      c: rowsOf('yp', f.hidden, first),
    },
  };
}

/** Grouped over the whole padded layout: block b's expert from block_expert, rows bounded by padded_total. */
function groupedProblems(f: FfnContext): FfnProblems {
  const { gateUp, down } = routedProblems(f, f.capacity, 0, 0);
  const groups = { block: f.block, index: 'block_expert', count: 'padded_total', rowIds: 'sorted_ids', sentinel: f.pairs };
  return {
    gateUp: { ...gateUp, groups: { ...groups, stride: f.hidden * 2 * pairOffset(f.inter, f.dtype) } },
    down: { ...down, groups: { ...groups, stride: f.inter * f.hidden } },
  };
}

/** The shared experts (one merged SwiGLU of intermediate shared x inter) over the tokens. */
function sharedProblems(f: FfnContext): FfnProblems {
  const pair = pairOffset(f.sharedInter, f.dtype);
  const base = { batch: 1, dtype: f.dtype, m: f.tokens };
  return {
    gateUp: {
      ...base,
      n: f.sharedInter,
      k: f.hidden,
      a: rowsOf('x', f.hidden),
      b: { buffer: 's_gate_up', rows: { rowStride: 2 * pair } },
      c: rowsOf('s_act', f.sharedInter),
      epilogue: { kind: 'swiglu', pair },
    },
    down: {
      ...base,
      n: f.hidden,
      k: f.sharedInter,
      a: rowsOf('s_act', f.sharedInter),
      b: rowsOf('s_down', f.hidden),
      c: rowsOf('ys', f.hidden),
    },
  };
}

/** A GEMM stage's plan: the slot's given plan, else the strategy's; the slot for the tuner. */
function choosePlan(f: FfnContext, slot: string, problem: GemmProblem): { plan: GemmPlan; tunable: TunableSlot } {
  const given = overrideOf(f.plans, slot, 'gemm');
  const picked = planGemm(problem, f.device, f.tiling);
  const plan = given ? (planDefect(problem, given, f.device) ?? given) : picked;
  if (typeof plan === 'string') throw new Error(`moe ${slot}: no GEMM plan fits: ${plan}`);
  const choice = { chosen: plan, defaultPlan: typeof picked === 'string' ? null : picked };
  return { plan, tunable: gemmSlot(slot, problem, f.device, f.tiling, preferredKinds(problem, f.tiling), choice) };
}

/** The FFN's dispatches: static stages (grouped, shared) and host-loop templates, their uniforms, slots and plans. */
export interface FfnStages {
  stages: StageDecl[];
  buffers: BufferDecl[];
  tunables: TunableSlot[];
  facts: Record<string, string>;
}

const PHASE = 'expert-ffn';

/** A slot's plan fact: `shared-gate-up` -> `sharedGateUpPlan`. */
const factName = (slot: string): string => `${slot.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())}Plan`;

/** Emits each problem of `problems` under its slot name (the stage's name too). */
function emitAll(f: FfnContext, problems: [slot: string, problem: GemmProblem, used?: { rows: number; groups: number }][]): FfnStages {
  const out: FfnStages = { stages: [], buffers: [], tunables: [], facts: {} };
  for (const [slot, problem, used] of problems) {
    const { plan, tunable } = choosePlan(f, slot, problem);
    const emitted = emitGemm(problem, plan, { name: slot, phase: PHASE, work: gemmWork(problem, used) }, f.device.limits);
    out.stages.push(emitted.stage);
    out.buffers.push(...emitted.buffers);
    out.tunables.push(tunable);
    out.facts[factName(slot)] = describePlan(plan);
  }
  return out;
}

/** The shared experts' gate-up and down (none without shared experts or tokens). */
export function sharedFfn(f: FfnContext): FfnStages {
  if (f.sharedInter === 0 || f.tokens === 0) return { stages: [], buffers: [], tunables: [], facts: {} };
  const { gateUp, down } = sharedProblems(f);
  return emitAll(f, [
    ['shared-gate-up', gateUp],
    ['shared-down', down],
  ]);
}

/** Grouped: every expert's rows in one gate-up and one down dispatch; work counts the real rows and the experts with rows. */
export function groupedFfn(f: FfnContext, expertsWithRows: number): FfnStages {
  if (f.pairs === 0) return { stages: [], buffers: [], tunables: [], facts: {} };
  const { gateUp, down } = groupedProblems(f);
  const used = { rows: f.pairs, groups: expertsWithRows };
  return emitAll(f, [
    ['gate-up', gateUp, used],
    ['down', down, used],
  ]);
}

/** Expert e's first row in the padded layout, from the read-back counts (moe_scan's padded prefix sum). */
function expertStarts(counts: ArrayLike<number>, block: number): number[] {
  const starts: number[] = [];
  let start = 0;
  for (let e = 0; e < counts.length; e++) {
    starts.push(start);
    start += Math.ceil(counts[e]! / block) * block;
  }
  return starts;
}

/**
 * Host loop: per expert a gate-up and a down template (plans chosen up front for the mean rows per expert, at least
 * a block, as a host loop compiles its pipelines before it knows the counts; each template declares the work its
 * expert's `layoutCounts` rows will need), and the planner that turns read-back counts into each expert's dispatches with its uniform.
 */
export function hostLoopFfn(f: FfnContext, layoutCounts: ArrayLike<number>): FfnStages & { plan(counts: Uint32Array): TailDispatch[] } {
  // The mean rows per expert, at least a block: a plan for one row would re-stream an expert's weights per row.
  const nominal = routedProblems(f, Math.max(f.block, Math.ceil(f.pairs / f.experts)), 0, 0);
  const gateUp = choosePlan(f, 'gate-up', nominal.gateUp);
  const down = choosePlan(f, 'down', nominal.down);
  const out: FfnStages = {
    stages: [],
    buffers: [],
    tunables: [gateUp.tunable, down.tunable],
    facts: { [factName('gate-up')]: describePlan(gateUp.plan), [factName('down')]: describePlan(down.plan) },
  };
  const starts = expertStarts(layoutCounts, f.block);
  // Each expert's emitted gate-up and down (at the layout's rows): the planner moves them to the read-back rows.
  const emittedOf: { problem: GemmProblem; plan: GemmPlan; words: Uint32Array }[] = [];
  for (let e = 0; e < f.experts; e++) {
    const rows = layoutCounts[e]!;
    const problems = routedProblems(f, Math.max(1, rows), starts[e]!, e);
    const used = { rows, groups: rows > 0 ? 1 : 0 };
    for (const [name, problem, plan] of [
      [`gate-up-${e}`, problems.gateUp, gateUp.plan],
      [`down-${e}`, problems.down, down.plan],
    ] as const) {
      const emitted = emitGemm(problem, plan, { name, phase: PHASE, work: gemmWork(problem, used) }, f.device.limits);
      out.stages.push(emitted.stage);
      out.buffers.push(...emitted.buffers);
      const words = emitted.buffers[0]!.data as Uint32Array;
      emittedOf.push({ problem, plan, words });
    }
  }
  const plan = (counts: Uint32Array): TailDispatch[] => {
    const first = expertStarts(counts, f.block);
    const dispatches: TailDispatch[] = [];
    counts.forEach((rows, e) => {
      if (rows === 0) return;
      for (const i of [0, 1]) {
        const { words, workgroups } = gemmRowsLaunch(emittedOf[2 * e + i]!, rows, first[e]!, f.device.limits);
        dispatches.push({ template: 2 * e + i, workgroups, params: words });
      }
    });
    return dispatches;
  };
  return { ...out, plan };
}
