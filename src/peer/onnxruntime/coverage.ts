import type { PeerCase } from '../types.js';

/**
 * Which cases ONNX Runtime has an operator for as a whole, and why not where it has none. Attention cases (and
 * mla-decode's mha / gqa / mqa baselines) map to com.microsoft.MultiHeadAttention (MHA) and GroupQueryAttention
 * (GQA, MQA), GEMM cases to MatMul; MLA's own forms have none (their GEMM stages are compared one by one).
 */
export function unsupportedReason(input: Pick<PeerCase, 'family' | 'params'>): string | null {
  switch (input.family) {
    case 'attention':
    case 'gemm':
      return null;
    case 'mla': {
      const form = input.params['form'];
      // The baselines are the attention core alone at MLA's heads and head dim: MultiHeadAttention / GQA.
      if (form === 'mha' || form === 'gqa' || form === 'mqa') return null;
      if (form === 'absorbed')
        return 'no ORT operator: absorbed MLA (attention over the latent cache, W_UK/W_UV folded into q and o); its GEMM stages are compared one by one (MatMul)';
      return 'no single ORT operator: naive MLA chains GEMMs, RoPE and attention; its GEMM stages are compared one by one (MatMul)';
    }
    case 'moe':
      return 'no ORT counterpart: com.microsoft.MoE is a fused layer with its own routing, not this dispatch pipeline';
    default:
      return `no ORT counterpart for the ${input.family} family`;
  }
}
