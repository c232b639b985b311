import type { OutputCheck } from '../../kernels/spec.js';
import { attentionView } from '../attention-view.js';
import { gemmView } from '../gemm-view.js';
import { phaseGemms, stageGemmView } from '../stage-gemm-view.js';
import type { PeerCase } from '../types.js';
import { attentionModel } from './attention-model.js';
import { unsupportedReason } from './coverage.js';
import { matmulModel } from './matmul-model.js';
import type { PeerModel } from './peer-model.js';

/** One output of a peer model, the float64 check it is judged by, and the output as that check reads it. */
export interface CheckedOutput {
  output: string;
  check: OutputCheck;
  asChecked(values: Float32Array): ArrayLike<number>;
}

/** What ORT runs for a case or a stage: the model and its checked outputs. */
export interface CaseModel {
  model: PeerModel;
  outputs: CheckedOutput[];
}

export type CaseModelResult = { kind: 'model'; caseModel: CaseModel } | { kind: 'unsupported'; reason: string };

/** A thing a peer runs beside a case: the whole case, or one stage (phase) of it, by the stage's name. */
export interface PeerTarget {
  stage?: string;
  result: CaseModelResult;
}

/** Families whose GEMM stages are compared one stage at a time (MatMul per stage), beside the case's own entry. */
const STAGED_FAMILIES = new Set(['mla']);
/** Seeds of the stand-in values of operands that another stage computes. */
const STAGE_SEED = 0x5ca1ab1e;

/** The one-node model of a case (attention: MultiHeadAttention / GroupQueryAttention; GEMM: MatMul), or why none. */
export function caseModel(input: Pick<PeerCase, 'family' | 'params' | 'kernelCase'>): CaseModelResult {
  const unsupported = unsupportedReason(input);
  if (unsupported) return { kind: 'unsupported', reason: unsupported };
  if (input.family === 'gemm') {
    const view = gemmView(input.kernelCase);
    if (view.kind === 'unsupported') return view;
    const built = matmulModel([{ name: 'output', view: view.view }]);
    if (built.kind === 'unsupported') return built;
    const output = { output: 'output', check: view.view.check, asChecked: (values: Float32Array) => view.view.asOutputBuffer(values) };
    return { kind: 'model', caseModel: { model: built.model, outputs: [output] } };
  }
  const view = attentionView(input.kernelCase);
  if (view.kind === 'unsupported') return view;
  const built = attentionModel(view.view);
  if (built.kind === 'unsupported') return built;
  return { kind: 'model', caseModel: { model: built.model, outputs: [{ output: 'output', check: view.view.check, asChecked: (v) => v }] } };
}

/** A stage's GEMMs as MatMul nodes, one output each, each checked against float64 of its own operands. */
function stageModel(stages: ReturnType<typeof phaseGemms>[number]['stages'], input: Pick<PeerCase, 'kernelCase'>): CaseModelResult {
  const gemms = stages.map((stage, i) => ({
    name: stage.name,
    view: stageGemmView(stage.name, stage.problem, input.kernelCase.buffers, (STAGE_SEED + 2 * i) >>> 0),
  }));
  const built = matmulModel(gemms);
  if (built.kind === 'unsupported') return built;
  const outputs = gemms.map(({ name, view }) => ({ output: name, check: view.check, asChecked: (v: Float32Array) => v }));
  return { kind: 'model', caseModel: { model: built.model, outputs } };
}

/** The case's own target, then, for families compared stage by stage, one per stage holding GEMMs. */
export function peerTargets(input: Pick<PeerCase, 'family' | 'params' | 'kernelCase'>): PeerTarget[] {
  const own: PeerTarget = { result: caseModel(input) };
  if (!STAGED_FAMILIES.has(input.family)) return [own];
  return [own, ...phaseGemms(input.kernelCase).map((phase) => ({ stage: phase.phase, result: stageModel(phase.stages, input) }))];
}
