import { f32ArrayToF16Bits } from '../../util/f16.js';
import type { GemmView } from '../gemm-view.js';
import type { OnnxGraph, OnnxInitializer } from '../onnx/model.js';
import { identityGraph, type ModelResult } from './peer-model.js';

/**
 * A GEMM case as one ONNX MatMul (opset 17, numpy broadcasting): A [z, m, k] (or [m, k] where the batch shares
 * it) times B [z, k, n] (or [k, n]), output [z, m, n] ([m, n] for one matrix). Both operands are initializers, on
 * the GPU before the first run, as a real model's weights and the previous layer's activations would be.
 */
export function matmulModel(view: GemmView): ModelResult {
  const { batch, m, n, k, aCopies, bCopies } = view;
  const type = view.dtype === 'f16' ? 'float16' : 'float32';
  const tensor = (name: string, dims: number[], values: Float32Array): OnnxInitializer =>
    type === 'float16' ? { name, type, dims, data: f32ArrayToF16Bits(values) } : { name, type, dims, data: values };
  const batched = (copies: number, rows: number, cols: number): number[] => (copies > 1 ? [copies, rows, cols] : [rows, cols]);
  const outputDims = batched(batch, m, n);
  const graph: OnnxGraph = {
    name: 'MatMul',
    nodes: [{ name: 'matmul', opType: 'MatMul', domain: '', inputs: ['a', 'b'], outputs: ['output'] }],
    inputs: [],
    outputs: [{ name: 'output', type, dims: outputDims }],
    initializers: [tensor('a', batched(aCopies, m, k), view.a), tensor('b', batched(bCopies, k, n), view.b)],
  };
  return {
    kind: 'model',
    model: { operator: 'MatMul', graph, output: 'output', gpuOutputs: [], identity: identityGraph(type, outputDims) },
  };
}
