import { f32ArrayToF16Bits } from '../../util/f16.js';
import type { AttentionView } from '../attention-view.js';
import type { OnnxAttribute, OnnxGraph, OnnxInitializer, OnnxNode } from '../onnx/model.js';
import { identityGraph, type ModelResult } from './peer-model.js';

/**
 * One-node ONNX models of an attention case for ONNX Runtime's contrib operators (com.microsoft):
 *   MultiHeadAttention   for MHA (n_kv = n_q): query/key/value [B, S, heads * d], past K/V [B, N, P, d];
 *   GroupQueryAttention  for GQA and MQA:      the same, plus seqlens_k [B] (total - 1) and total_sequence_length.
 * Decode feeds the cache's first P = kv_len - q_len tokens as past K/V and the last q_len as the new key/value;
 * prefill feeds all of them as key/value with no past. Every tensor is an initializer, so it is on the GPU
 * before the first run and a run uploads nothing (a real model's q/k/v come from the layer before, on the GPU).
 * What the operator does beyond attention on the way (CopyKVCache: past + new into its present cache) shows
 * as its own kernels in the profile.
 */

export type AttentionOperator = 'MultiHeadAttention' | 'GroupQueryAttention';

/** MultiHeadAttention's WebGPU kernel refuses unidirectional=1: causality comes as an additive bias of at most this size. */
const MAX_CAUSAL_BIAS_BYTES = 64 * 2 ** 20;

function floatTensor(view: AttentionView, name: string, dims: number[], values: Float32Array): OnnxInitializer {
  return view.dtype === 'f16'
    ? { name, type: 'float16', dims, data: f32ArrayToF16Bits(values) }
    : { name, type: 'float32', dims, data: values };
}

const elementType = (view: AttentionView): 'float16' | 'float32' => (view.dtype === 'f16' ? 'float16' : 'float32');

/** Tokens [from, to) of every (sequence, KV head) slab of a [B][N][T][d] cache, as [B][N][to - from][d]. */
function tokenSlice(cache: Float32Array, view: AttentionView, dim: number, from: number, to: number): Float32Array {
  const n = to - from;
  const out = new Float32Array(view.batch * view.nKv * n * dim);
  for (let slab = 0; slab < view.batch * view.nKv; slab++) {
    out.set(cache.subarray((slab * view.kvLen + from) * dim, (slab * view.kvLen + to) * dim), slab * n * dim);
  }
  return out;
}

/** [B][N][S][d] -> [B][S][N][d]: the new tokens as the operators' key/value input. */
function bnshToBsnh(x: Float32Array, batch: number, heads: number, seq: number, dim: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++)
      for (let s = 0; s < seq; s++) {
        const from = ((b * heads + h) * seq + s) * dim;
        out.set(x.subarray(from, from + dim), ((b * seq + s) * heads + h) * dim);
      }
  return out;
}

/** Additive causal mask [1, 1, S, T]: query s (at position T - S + s) sees tokens t <= T - S + s. */
function causalBias(view: AttentionView): OnnxInitializer {
  const S = view.qLen;
  const T = view.kvLen;
  // Far below any score, far above the type's lowest so that score + mask stays finite.
  const masked = view.dtype === 'f16' ? -3e4 : -1e30;
  const bias = new Float32Array(S * T);
  for (let s = 0; s < S; s++) for (let t = T - S + s + 1; t < T; t++) bias[s * T + t] = masked;
  return floatTensor(view, 'attention_bias', [1, 1, S, T], bias);
}

export function attentionModel(view: AttentionView): ModelResult {
  const { batch: B, nQ, nKv, dQk, dV, qLen: S, kvLen: T } = view;
  const past = view.phase === 'decode' ? T - S : 0;
  if (past < 0) return { kind: 'unsupported', reason: `q_len ${S} longer than the cache (${T})` };
  if (view.phase === 'prefill' && S !== T) return { kind: 'unsupported', reason: 'prefill with q_len != kv_len' };
  const mha = nQ === nKv;
  const operator: AttentionOperator = mha ? 'MultiHeadAttention' : 'GroupQueryAttention';
  if (!mha && dQk !== dV) return { kind: 'unsupported', reason: `GroupQueryAttention needs d_qk = d_v (case: ${dQk} / ${dV})` };
  const needsBias = mha && view.causal && S > 1;
  if (needsBias && S * T * (view.dtype === 'f16' ? 2 : 4) > MAX_CAUSAL_BIAS_BYTES) {
    return {
      kind: 'unsupported',
      reason: `MultiHeadAttention's WebGPU kernel is not causal; its causal mask would take ${((S * T * 4) / 2 ** 20).toFixed(0)} MB`,
    };
  }
  if (!mha && !view.causal) return { kind: 'unsupported', reason: 'GroupQueryAttention is always causal' };

  const initializers: OnnxInitializer[] = [
    floatTensor(view, 'query', [B, S, nQ * dQk], view.q),
    floatTensor(view, 'key', [B, S, nKv * dQk], bnshToBsnh(tokenSlice(view.k, view, dQk, past, T), B, nKv, S, dQk)),
    floatTensor(view, 'value', [B, S, nKv * dV], bnshToBsnh(tokenSlice(view.v, view, dV, past, T), B, nKv, S, dV)),
  ];
  if (past > 0) {
    initializers.push(floatTensor(view, 'past_key', [B, nKv, past, dQk], tokenSlice(view.k, view, dQk, 0, past)));
    initializers.push(floatTensor(view, 'past_value', [B, nKv, past, dV], tokenSlice(view.v, view, dV, 0, past)));
  }
  const pastKey = past > 0 ? 'past_key' : '';
  const pastValue = past > 0 ? 'past_value' : '';
  const attributes: OnnxAttribute[] = [
    { name: 'num_heads', kind: 'int', value: nQ },
    { name: 'scale', kind: 'float', value: view.scale },
  ];
  let node: OnnxNode;
  const gpuOutputs = past > 0 || !mha ? ['present_key', 'present_value'] : [];
  if (mha) {
    if (needsBias) initializers.push(causalBias(view));
    node = {
      name: 'attention',
      opType: operator,
      domain: 'com.microsoft',
      inputs: ['query', 'key', 'value', '', '', needsBias ? 'attention_bias' : '', pastKey, pastValue],
      outputs: ['output', ...gpuOutputs],
      attributes,
    };
  } else {
    initializers.push({ name: 'seqlens_k', type: 'int32', dims: [B], data: new Int32Array(B).fill(T - 1) });
    initializers.push({ name: 'total_sequence_length', type: 'int32', dims: [], data: Int32Array.of(T) });
    node = {
      name: 'attention',
      opType: operator,
      domain: 'com.microsoft',
      inputs: ['query', 'key', 'value', pastKey, pastValue, 'seqlens_k', 'total_sequence_length'],
      outputs: ['output', ...gpuOutputs],
      attributes: [...attributes, { name: 'kv_num_heads', kind: 'int', value: nKv }],
    };
  }
  const type = elementType(view);
  const outputDims = [B, S, nQ * dV];
  const presentDims = [B, nKv, T, dQk];
  const graph: OnnxGraph = {
    name: `${operator}-${view.phase}`,
    nodes: [node],
    inputs: [],
    outputs: [{ name: 'output', type, dims: outputDims }, ...gpuOutputs.map((name) => ({ name, type, dims: presentDims }))],
    initializers,
  };
  return {
    kind: 'model',
    model: { operator: `com.microsoft.${operator}`, graph, outputs: ['output'], gpuOutputs, identity: identityGraph(type, [outputDims]) },
  };
}
