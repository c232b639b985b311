import type { OutputCheck } from '../../kernels/spec.js';
import { attentionView } from '../attention-view.js';
import { gemmView } from '../gemm-view.js';
import type { PeerCase } from '../types.js';
import { attentionModel } from './attention-model.js';
import { unsupportedReason } from './coverage.js';
import { matmulModel } from './matmul-model.js';
import type { PeerModel } from './peer-model.js';

/** A case as ORT runs it: the model, the case's own check, and the model's output as that check reads it. */
export interface CaseModel {
  model: PeerModel;
  check: OutputCheck;
  asChecked(output: Float32Array): ArrayLike<number>;
}

export type CaseModelResult = { kind: 'model'; caseModel: CaseModel } | { kind: 'unsupported'; reason: string };

/** The one-node model of a case (attention: MultiHeadAttention / GroupQueryAttention; GEMM: MatMul), or why none. */
export function caseModel(input: Pick<PeerCase, 'family' | 'params' | 'kernelCase'>): CaseModelResult {
  const unsupported = unsupportedReason(input);
  if (unsupported) return { kind: 'unsupported', reason: unsupported };
  if (input.family === 'gemm') {
    const view = gemmView(input.kernelCase);
    if (view.kind === 'unsupported') return view;
    const built = matmulModel(view.view);
    if (built.kind === 'unsupported') return built;
    return {
      kind: 'model',
      caseModel: { model: built.model, check: view.view.check, asChecked: (output) => view.view.asOutputBuffer(output) },
    };
  }
  const view = attentionView(input.kernelCase);
  if (view.kind === 'unsupported') return view;
  const built = attentionModel(view.view);
  if (built.kind === 'unsupported') return built;
  return { kind: 'model', caseModel: { model: built.model, check: view.view.check, asChecked: (output) => output } };
}
