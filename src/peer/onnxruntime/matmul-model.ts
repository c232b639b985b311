import { f32ArrayToF16Bits } from '../../util/f16.js';
import type { GemmView } from '../gemm-view.js';
import type { OnnxGraph, OnnxInitializer, OnnxNode } from '../onnx/model.js';
import { identityGraph, type ModelResult } from './peer-model.js';

/** A GEMM and the name of its node (and output) in the model. */
export interface NamedGemm {
  name: string;
  view: GemmView;
}

/**
 * GEMMs as ONNX MatMul nodes (opset 17, numpy broadcasting), one per GEMM, each with its own output: A [z, m, k]
 * (or [m, k] where the batch shares it) times B [z, k, n] (or [k, n]), output [z, m, n] ([m, n] for one matrix).
 * Operands are initializers, on the GPU before the first run, as a real model's weights and the previous
 * layer's activations would be. The nodes are independent: ORT runs them one after another in one run().
 */
export function matmulModel(gemms: readonly NamedGemm[]): ModelResult {
  const first = gemms[0];
  if (!first) return { kind: 'unsupported', reason: 'no GEMM to run' };
  if (gemms.some((g) => g.view.dtype !== first.view.dtype)) return { kind: 'unsupported', reason: 'GEMMs of mixed dtypes' };
  const type = first.view.dtype === 'f16' ? 'float16' : 'float32';
  const tensor = (name: string, dims: number[], values: Float32Array): OnnxInitializer =>
    type === 'float16' ? { name, type, dims, data: f32ArrayToF16Bits(values) } : { name, type, dims, data: values };
  const batched = (copies: number, rows: number, cols: number): number[] => (copies > 1 ? [copies, rows, cols] : [rows, cols]);
  const nodes: OnnxNode[] = [];
  const initializers: OnnxInitializer[] = [];
  const outputs: { name: string; type: typeof type; dims: number[] }[] = [];
  for (const { name, view } of gemms) {
    const { batch, m, n, k, aCopies, bCopies } = view;
    const [a, b] = [`${name}.a`, `${name}.b`];
    nodes.push({ name, opType: 'MatMul', domain: '', inputs: [a, b], outputs: [name] });
    initializers.push(tensor(a, batched(aCopies, m, k), view.a), tensor(b, batched(bCopies, k, n), view.b));
    outputs.push({ name, type, dims: batched(batch, m, n) });
  }
  const graph: OnnxGraph = { name: 'MatMul', nodes, inputs: [], outputs, initializers };
  return {
    kind: 'model',
    model: {
      operator: 'MatMul',
      graph,
      outputs: outputs.map((o) => o.name),
      gpuOutputs: [],
      identity: identityGraph(
        type,
        outputs.map((o) => o.dims),
      ),
    },
  };
}
