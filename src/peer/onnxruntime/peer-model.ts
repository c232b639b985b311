import type { OnnxElementType, OnnxGraph } from '../onnx/model.js';

/** A one-node ONNX model of a case for ONNX Runtime, with what a peer needs to time and check it. */
export interface PeerModel {
  /** The operator, domain-qualified: com.microsoft.MultiHeadAttention, MatMul (the default domain). */
  operator: string;
  graph: OnnxGraph;
  /** The output compared with the case's reference. */
  output: string;
  /** Outputs the operator must produce but nobody reads (GQA's present K/V): kept on the GPU, disposed per run. */
  gpuOutputs: string[];
  /** Same output shape and type, one Identity node: what a run() costs around the kernels (wall overhead). */
  identity: OnnxGraph;
}

export type ModelResult = { kind: 'model'; model: PeerModel } | { kind: 'unsupported'; reason: string };

/** One Identity node over a zero initializer of the output's shape and type. */
export function identityGraph(type: Extract<OnnxElementType, 'float16' | 'float32'>, dims: number[]): OnnxGraph {
  const count = dims.reduce((product, d) => product * d, 1);
  return {
    name: 'identity',
    nodes: [{ name: 'identity', opType: 'Identity', domain: '', inputs: ['x'], outputs: ['output'] }],
    inputs: [],
    outputs: [{ name: 'output', type, dims }],
    initializers: [
      type === 'float16'
        ? { name: 'x', type, dims, data: new Uint16Array(count) }
        : { name: 'x', type, dims, data: new Float32Array(count) },
    ],
  };
}
