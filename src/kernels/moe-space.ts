import type { MoePlan } from './moe-stages.js';

/**
 * The legal plans of an MoE step (the tunable slot MOE_SLOT): the dispatch kind is the case's own (an axis: gpu
 * against host-loop is the question the suite asks), the align chunk any power of two from 8 pairs to all of
 * them, and the block (rows per expert segment's padding, within which the grouped GEMMs' row tiles lie; vLLM's
 * BLOCK_SIZE_M) from 8 to 64, unless the case fixes it (its `block` axis). The expert FFN's GEMM tiles are slots of
 * their own (gate-up, down, shared-gate-up, shared-down: src/kernels/moe-ffn.ts).
 */
export const MOE_SLOT = 'moe';

const CHUNKS = [8, 16, 32, 64, 128, 256, 512, 1024];
const BLOCKS = [8, 16, 32, 64];

export function moePlanSpace(
  pairs: number,
  defaultPlan: MoePlan,
  blockFixed: boolean,
  blockProblem: (block: number) => string | null,
): MoePlan[] {
  // Chunks past the pairs all count in one chunk: the first such is enough.
  const chunks = [defaultPlan.chunk, ...CHUNKS.filter((chunk) => chunk / 2 < Math.max(8, pairs))];
  const blocks = blockFixed ? [defaultPlan.block] : [defaultPlan.block, ...BLOCKS.filter((block) => blockProblem(block) === null)];
  return [...new Set(blocks)].flatMap((block) => [...new Set(chunks)].map((chunk): MoePlan => ({ kind: defaultPlan.kind, block, chunk })));
}
