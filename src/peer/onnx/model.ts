import { ProtoWriter } from './proto.js';

/**
 * ONNX models written by hand in protobuf wire format (onnx.proto field numbers): enough of ModelProto,
 * GraphProto, NodeProto, AttributeProto, TensorProto and ValueInfoProto for the one-node graphs a peer runs.
 */

/** Element types of the tensors a peer model uses, by ORT's JavaScript names. */
export type OnnxElementType = 'float32' | 'float16' | 'int32' | 'int64';

/** TensorProto.DataType. */
const DATA_TYPE: Record<OnnxElementType, number> = { float32: 1, int32: 6, int64: 7, float16: 10 };

/** Host data per element type: float16 as its bit patterns. */
export type OnnxData<T extends OnnxElementType> = T extends 'float32'
  ? Float32Array
  : T extends 'float16'
    ? Uint16Array
    : T extends 'int32'
      ? Int32Array
      : BigInt64Array;

export type OnnxInitializer = { [T in OnnxElementType]: { name: string; type: T; dims: number[]; data: OnnxData<T> } }[OnnxElementType];

/** A graph input or output: its name, element type and shape (a string is a symbolic dimension). */
export interface OnnxValueInfo {
  name: string;
  type: OnnxElementType;
  dims: readonly (number | string)[];
}

export type OnnxAttribute =
  | { name: string; kind: 'int'; value: number }
  | { name: string; kind: 'float'; value: number }
  | { name: string; kind: 'string'; value: string }
  | { name: string; kind: 'ints'; value: readonly number[] };

export type OnnxDomain = '' | 'com.microsoft';

export interface OnnxNode {
  name: string;
  opType: string;
  domain: OnnxDomain;
  /** Input names in the operator's order; '' leaves an optional input out. */
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: readonly OnnxAttribute[];
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
  initializers: readonly OnnxInitializer[];
}

/** IR version 8 (ONNX 1.10+); every ORT release this project can load reads it. */
const IR_VERSION = 8;
/** Opset imports: the default domain at opset 17, Microsoft's contrib operators at version 1. */
const OPSETS: readonly { domain: OnnxDomain; version: number }[] = [
  { domain: '', version: 17 },
  { domain: 'com.microsoft', version: 1 },
];

// AttributeProto.AttributeType
const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, ints: 7 } as const;

function attribute(a: OnnxAttribute): ProtoWriter {
  const w = new ProtoWriter().string(1, a.name);
  switch (a.kind) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.int(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'ints':
      for (const v of a.value) w.int(8, v);
      break;
  }
  return w.int(20, ATTRIBUTE_TYPE[a.kind]);
}

function node(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const input of n.inputs) w.string(1, input);
  for (const output of n.outputs) w.string(2, output);
  w.string(3, n.name).string(4, n.opType);
  for (const a of n.attributes ?? []) w.message(5, attribute(a));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function tensor(t: OnnxInitializer): ProtoWriter {
  const expected = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== expected) throw new Error(`initializer ${t.name}: ${t.data.length} elements for dims [${t.dims.join(', ')}]`);
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d);
  w.int(2, DATA_TYPE[t.type]).string(8, t.name);
  // raw_data is little-endian, as typed arrays are on every platform Node runs on that ORT ships for.
  return w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

function valueInfo(v: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.dims) shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().int(1, DATA_TYPE[v.type]).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

/** The serialized ModelProto of a graph, ready for InferenceSession.create(bytes). */
export function encodeModel(graph: OnnxGraph, producer = 'mla-bench'): Uint8Array {
  const g = new ProtoWriter();
  for (const n of graph.nodes) g.message(1, node(n));
  g.string(2, graph.name);
  for (const t of graph.initializers) g.message(5, tensor(t));
  for (const v of graph.inputs) g.message(11, valueInfo(v));
  for (const v of graph.outputs) g.message(12, valueInfo(v));
  const m = new ProtoWriter().int(1, IR_VERSION).string(2, producer);
  for (const o of OPSETS) m.message(8, new ProtoWriter().string(1, o.domain).int(2, o.version));
  return m.message(7, g).finish();
}
