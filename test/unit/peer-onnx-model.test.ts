import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeModel, type OnnxGraph } from '../../src/peer/onnx/model.js';
import { ProtoWriter } from '../../src/peer/onnx/proto.js';
import { attentionModel } from '../../src/peer/onnxruntime/attention-model.js';
import type { AttentionView } from '../../src/peer/attention-view.js';

/** A protobuf reader just big enough to walk what ProtoWriter wrote: field number -> raw values. */
type Field = { wire: number; value: bigint | Uint8Array | number };
function decode(bytes: Uint8Array): Map<number, Field[]> {
  const fields = new Map<number, Field[]>();
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = bytes[at++] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return result;
      shift += 7n;
    }
  };
  while (at < bytes.length) {
    const tag = Number(varint());
    const field = tag >> 3;
    const wire = tag & 7;
    let value: Field['value'];
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const length = Number(varint());
      value = bytes.subarray(at, at + length);
      at += length;
    } else if (wire === 5) {
      value = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getFloat32(0, true);
      at += 4;
    } else throw new Error(`wire type ${wire}`);
    fields.set(field, [...(fields.get(field) ?? []), { wire, value }]);
  }
  return fields;
}
const text = (f: Field | undefined): string => new TextDecoder().decode(f?.value as Uint8Array);
const sub = (f: Field | undefined): Map<number, Field[]> => decode(f?.value as Uint8Array);

test('ProtoWriter: varints (negative int64 as ten bytes), floats and nested messages', () => {
  const bytes = new ProtoWriter().int(1, 300).int(2, -1).float(3, 1.5).string(4, 'ab').finish();
  assert.deepEqual([...bytes.subarray(0, 3)], [0x08, 0xac, 0x02]);
  const fields = decode(bytes);
  assert.equal(fields.get(1)?.[0]?.value, 300n);
  assert.equal(BigInt.asIntN(64, fields.get(2)?.[0]?.value as bigint), -1n);
  assert.equal(fields.get(3)?.[0]?.value, 1.5);
  assert.equal(text(fields.get(4)?.[0]), 'ab');
});

test('encodeModel: ModelProto with opsets for "" and com.microsoft, the node, initializers and outputs', () => {
  const graph: OnnxGraph = {
    name: 'g',
    nodes: [
      {
        name: 'n',
        opType: 'MultiHeadAttention',
        domain: 'com.microsoft',
        inputs: ['q', '', 'k'],
        outputs: ['y'],
        attributes: [
          { name: 'num_heads', kind: 'int', value: 4 },
          { name: 'scale', kind: 'float', value: 0.25 },
        ],
      },
    ],
    inputs: [],
    outputs: [{ name: 'y', type: 'float32', dims: [1, 2, 'n'] }],
    initializers: [{ name: 'q', type: 'float32', dims: [2, 2], data: Float32Array.of(1, 2, 3, 4) }],
  };
  const model = decode(encodeModel(graph));
  assert.equal(model.get(1)?.[0]?.value, 8n, 'ir_version');
  const opsets = (model.get(8) ?? []).map((f) => {
    const o = sub(f);
    return [o.has(1) ? text(o.get(1)?.[0]) : '', Number(o.get(2)?.[0]?.value)];
  });
  assert.deepEqual(opsets, [
    ['', 17],
    ['com.microsoft', 1],
  ]);
  const g = sub(model.get(7)?.[0]);
  const node = sub(g.get(1)?.[0]);
  assert.deepEqual((node.get(1) ?? []).map(text), ['q', '', 'k'], 'an empty name leaves an optional input out');
  assert.equal(text(node.get(4)?.[0]), 'MultiHeadAttention');
  assert.equal(text(node.get(7)?.[0]), 'com.microsoft');
  const attrs = (node.get(5) ?? []).map(sub);
  assert.equal(attrs[0]?.get(3)?.[0]?.value, 4n);
  assert.equal(attrs[0]?.get(20)?.[0]?.value, 2n, 'INT');
  assert.equal(attrs[1]?.get(2)?.[0]?.value, 0.25);
  assert.equal(attrs[1]?.get(20)?.[0]?.value, 1n, 'FLOAT');
  const init = sub(g.get(5)?.[0]);
  assert.deepEqual(
    (init.get(1) ?? []).map((f) => f.value),
    [2n, 2n],
  );
  assert.equal(init.get(2)?.[0]?.value, 1n, 'FLOAT');
  assert.deepEqual([...new Float32Array((init.get(9)?.[0]?.value as Uint8Array).slice().buffer)], [1, 2, 3, 4]);
  const out = sub(g.get(12)?.[0]);
  const dims = (sub(sub(sub(out.get(2)?.[0]).get(1)?.[0]).get(2)?.[0]).get(1) ?? []).map(sub);
  assert.deepEqual(
    dims.map((d) => (d.has(1) ? Number(d.get(1)?.[0]?.value) : text(d.get(2)?.[0]))),
    [1, 2, 'n'],
  );
  assert.throws(
    () => encodeModel({ ...graph, initializers: [{ name: 'q', type: 'float32', dims: [3], data: Float32Array.of(1) }] }),
    /1 elements for dims \[3\]/,
  );
});

function view(overrides: Partial<AttentionView>): AttentionView {
  const base = {
    phase: 'decode',
    dtype: 'f32',
    batch: 1,
    nQ: 4,
    nKv: 4,
    dQk: 4,
    dV: 4,
    qLen: 1,
    kvLen: 3,
    causal: true,
    scale: 0.5,
  } as const;
  const v = { ...base, ...overrides };
  const count = (n: number) => Float32Array.from({ length: n }, (_, i) => i);
  return {
    ...v,
    q: count(v.batch * v.qLen * v.nQ * v.dQk),
    k: count(v.batch * v.nKv * v.kvLen * v.dQk),
    v: count(v.batch * v.nKv * v.kvLen * v.dV),
    check: { buffer: 'out', shape: [], expected: () => new Float64Array(), tolerance: { atol: 0, rtol: 0 } },
  };
}

test('attentionModel: MHA decode = MultiHeadAttention with the first kv_len - q_len tokens as past, presents kept on the GPU', () => {
  const built = attentionModel(view({}));
  assert.equal(built.kind, 'model');
  if (built.kind !== 'model') return;
  const { graph, gpuOutputs } = built.model;
  assert.equal(graph.nodes[0]?.opType, 'MultiHeadAttention');
  assert.deepEqual(graph.nodes[0]?.inputs, ['query', 'key', 'value', '', '', '', 'past_key', 'past_value']);
  // ORT ignores past K/V unless present K/V are asked for: they are, and stay on the GPU.
  assert.deepEqual(gpuOutputs, ['present_key', 'present_value']);
  const init = new Map(graph.initializers.map((t) => [t.name, t]));
  assert.deepEqual(init.get('past_key')?.dims, [1, 4, 2, 4]);
  // Head 1's past: its tokens 0 and 1 ([b][h][t][d] offset (1 * 3 + t) * 4).
  assert.deepEqual([...(init.get('past_key')?.data as Float32Array).subarray(8, 16)], [12, 13, 14, 15, 16, 17, 18, 19]);
  // The new token of head 1 (token 2) sits at [b][s][h][d] = h * 4 in key.
  assert.deepEqual([...(init.get('key')?.data as Float32Array).subarray(4, 8)], [20, 21, 22, 23]);
});

test('attentionModel: GQA = GroupQueryAttention with seqlens_k and total length; MHA prefill carries a causal bias', () => {
  const gqa = attentionModel(view({ nKv: 2, phase: 'prefill', qLen: 3 }));
  assert.ok(gqa.kind === 'model');
  if (gqa.kind !== 'model') return;
  const node = gqa.model.graph.nodes[0];
  assert.equal(node?.opType, 'GroupQueryAttention');
  assert.deepEqual(node?.inputs, ['query', 'key', 'value', '', '', 'seqlens_k', 'total_sequence_length']);
  const init = new Map(gqa.model.graph.initializers.map((t) => [t.name, t]));
  assert.deepEqual([...(init.get('seqlens_k')?.data as Int32Array)], [2]);
  assert.deepEqual(init.get('total_sequence_length')?.dims, []);
  const mha = attentionModel(view({ phase: 'prefill', qLen: 3 }));
  assert.ok(mha.kind === 'model');
  if (mha.kind !== 'model') return;
  const bias = mha.model.graph.initializers.find((t) => t.name === 'attention_bias');
  assert.deepEqual(
    [...(bias?.data as Float32Array)].map((x) => (x < -1e20 ? '-' : x)),
    [0, '-', '-', 0, 0, '-', 0, 0, 0],
  );
  assert.equal(attentionModel(view({ nKv: 2, dV: 8 })).kind, 'unsupported', 'GQA needs d_qk = d_v');
});
