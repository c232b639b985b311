import type { OnnxElementType, OnnxGraph } from '../onnx/model.js';

/** A one-node ONNX model of a case for ONNX Runtime, with what a peer needs to time and check it. */
export interface PeerModel {
  /** The operator, domain-qualified: com.microsoft.MultiHeadAttention, MatMul (the default domain). */
  operator: string;
  graph: OnnxGraph;
  /** The outputs compared with float64 references (one per node of a stage's MatMuls; one for an attention case). */
  outputs: string[];
  /** Outputs the operator must produce but nobody reads (GQA's present K/V): kept on the GPU, disposed per run. */
  gpuOutputs: string[];
  /** Same compared outputs' shapes and type, an Identity node each: what a run() costs around the kernels (wall overhead). */
  identity: OnnxGraph;
}

export type ModelResult = { kind: 'model'; model: PeerModel } | { kind: 'unsupported'; reason: string };

/** One Identity node per output, each over a zero initializer of that output's shape and type. */
export function identityGraph(type: Extract<OnnxElementType, 'float16' | 'float32'>, outputs: readonly number[][]): OnnxGraph {
  const zeros = (dims: number[]) => {
    const count = dims.reduce((product, d) => product * d, 1);
    return type === 'float16' ? new Uint16Array(count) : new Float32Array(count);
  };
  return {
    name: 'identity',
    nodes: outputs.map((_, i) => ({ name: `identity${i}`, opType: 'Identity', domain: '', inputs: [`x${i}`], outputs: [`output${i}`] })),
    inputs: [],
    outputs: outputs.map((dims, i) => ({ name: `output${i}`, type, dims })),
    initializers: outputs.map((dims, i) => ({ name: `x${i}`, type, dims, data: zeros(dims) }) as OnnxGraph['initializers'][number]),
  };
}
