import type { DeviceLimits, PrivateMemory } from '../core/device-facts.js';
import { longestKv, queryRows, type AttentionPhase, type AttentionShape, type AttentionTiling } from './attention-shape.js';
import { chooseDecodeTiles, choosePrefillTiles, type DecodeTiles, type PrefillTiles } from './attention-tiles.js';
import { ceilDiv, pow2Ceil, pow2Floor } from './build.js';

/**
 * Plans of the attention core: which attend kernel computes a case, with its tunables as fields (one object per
 * kernel choice), and the strategies that pick one. A strategy looks at the problem and the device and returns
 * its plan or why it does not apply; a tiling tries its strategies in order and takes the first plan. The
 * emitter (attention-core.ts) turns any plan into buffers and stages. A new kernel is a plan kind here, its
 * strategy and an entry in the emitter's kernel table; an autotuner can enumerate plans and emit each.
 */

/** attention_decode.wgsl over the split-KV grid, `chunk` tokens per split, + attention_reduce.wgsl. */
export interface DecodePlan {
  readonly kind: 'decode';
  readonly tiles: DecodeTiles;
  readonly chunk: number;
}

/** attention_prefill.wgsl: one pass over every token, the output written directly. */
export interface PrefillPlan {
  readonly kind: 'prefill';
  readonly tiles: PrefillTiles;
}

/**
 * attention_flash.wgsl: `wg` invocations of `rpi` query rows each, K/V tiles of `bk` tokens in workgroup memory,
 * blocks of 8 tokens shared across subgroup lanes; writes the output directly.
 */
export interface FlashPlan {
  readonly kind: 'flash';
  readonly wg: number;
  readonly rpi: number;
  readonly bk: number;
}

/** attention_rows.wgsl: each invocation walks its split alone with `rpi` query rows, `wg` invocations a workgroup. */
export interface RowsPlan {
  readonly kind: 'rows';
  readonly rpi: number;
  readonly wg: number;
  readonly chunk: number;
}

/**
 * attention_rows_subgroup.wgsl: `wg` invocations of `rpi` rows walk the same tokens, sharing loads across subgroup
 * lanes; 'direct' (one split only) writes the normalised output with no reduce (entry point main_direct).
 */
export interface SubgroupRowsPlan {
  readonly kind: 'rows-subgroup';
  readonly rpi: number;
  readonly wg: number;
  readonly chunk: number;
  readonly output: 'partials' | 'direct';
}

/** attention_columns.wgsl: one subgroup of 8 lanes per `r` query rows, the lanes splitting the head dims. */
export interface ColumnsPlan {
  readonly kind: 'columns';
  readonly r: number;
  readonly chunk: number;
}

export type AttentionPlan = DecodePlan | PrefillPlan | FlashPlan | RowsPlan | SubgroupRowsPlan | ColumnsPlan;

/** The workgroup tiling's prefill kernels: attention_flash.wgsl (FlashPlan) or attention_prefill.wgsl (PrefillPlan). */
export const PREFILL_KERNELS = ['flash', 'tiled'] as const;
export type PrefillKernel = (typeof PREFILL_KERNELS)[number];

/** Tunables a caller may fix; the strategies choose the rest. */
export interface AttendWishes {
  /** The workgroup tiling's prefill kernel (default: flash where the adapter has subgroups of >= 8 lanes, else tiled). */
  prefillKernel?: PrefillKernel;
  /** Rows tiling: query rows per invocation (default: as many as fit, up to 8), invocations per workgroup. */
  rowsPerInvocation?: number;
  rowsWorkgroup?: number;
  /** Number of KV splits (default: enough workgroups to fill the device, long enough splits each). */
  splits?: number;
  decodeTiles?: Partial<DecodeTiles>;
  prefillTiles?: Partial<PrefillTiles>;
}

/** What a strategy plans for. */
export interface PlanRequest {
  shape: AttentionShape;
  phase: AttentionPhase;
  limits: DeviceLimits;
  /** Smallest subgroup of the adapter; undefined without the subgroups feature. */
  subgroupMinSize: number | undefined;
  /** Where the kernels' private arrays live (BuildContext.privateMemory). */
  privateMemory: PrivateMemory;
  /** v rows wider than d_v (v a prefix of each K row: V_STRIDE4). */
  stridedV: boolean;
  wishes: AttendWishes;
}

/** A way to compute attention: its plan for the request, or why it does not apply. */
export type AttentionStrategy = (request: PlanRequest) => AttentionPlan | string;

/** The first strategy's plan that applies, or the last strategy's reason. */
export function pickPlan(strategies: readonly AttentionStrategy[], request: PlanRequest): AttentionPlan | string {
  let reason = 'no attention strategy';
  for (const strategy of strategies) {
    const plan = strategy(request);
    if (typeof plan !== 'string') return plan;
    reason = plan;
  }
  return reason;
}

/** Query rows of one row block (params.row_blocks = ceil(rows per KV head / this)). */
export function blockRows(plan: AttentionPlan): number {
  switch (plan.kind) {
    case 'decode':
    case 'prefill':
      return plan.tiles.BR;
    case 'rows':
      return plan.rpi;
    case 'flash':
      return plan.wg * plan.rpi;
    case 'rows-subgroup':
      return plan.wg * plan.rpi;
    case 'columns':
      return plan.r;
  }
}

/** Decode splits: enough workgroups to fill a large GPU, but at least MIN_SPLIT_TOKENS tokens each. */
const TARGET_WORKGROUPS = 256;
const MIN_SPLIT_TOKENS = 256;

/** Tokens per split (a multiple of `align`): `wanted` splits, or enough for `target` workgroups of >= minTokens tokens. */
function splitChunk(
  shape: AttentionShape,
  rowBlocks: number,
  align: number,
  wanted?: number,
  target = TARGET_WORKGROUPS,
  minTokens = MIN_SPLIT_TOKENS,
): number {
  const maxLen = longestKv(shape);
  const perSplit = shape.batch * shape.nKv * rowBlocks;
  const want = wanted ?? Math.min(ceilDiv(target, perSplit), ceilDiv(maxLen, minTokens));
  return ceilDiv(ceilDiv(maxLen, Math.max(1, want)), align) * align;
}

function decodeStrategy({ shape, phase, limits, wishes }: PlanRequest): DecodePlan | string {
  if (phase !== 'decode') return 'the split-KV decode kernel serves the decode phase';
  const tiles = chooseDecodeTiles(shape, limits, wishes.decodeTiles);
  if (typeof tiles === 'string') return tiles;
  return { kind: 'decode', tiles, chunk: splitChunk(shape, ceilDiv(queryRows(shape), tiles.BR), tiles.BK, wishes.splits) };
}

function prefillStrategy(request: PlanRequest): PrefillPlan | string {
  const { shape, phase, limits, wishes, stridedV } = request;
  if (phase !== 'prefill') return 'the tiled prefill kernel serves the prefill phase';
  if (wishes.prefillKernel === 'flash') return `prefill_kernel=flash: ${flashStrategy(request) as string}`;
  if (stridedV) return 'the prefill kernel reads v rows of d_v only: use the decode (split) path';
  const tiles = choosePrefillTiles(shape, limits, wishes.prefillTiles);
  return typeof tiles === 'string' ? tiles : { kind: 'prefill', tiles };
}

/**
 * attention_flash.wgsl's limits: rows per invocation (its per-row private arrays, MAX_RPI in WGSL), whole groups
 * of 8 lanes per workgroup, token tiles of whole blocks of 8, and the K and V tiles (f32) in workgroup memory.
 */
export const FLASH_MAX_RPI = 4;
export const FLASH_LANES = 8;

/** Why a flash plan cannot run the request (lanes, rows, tile, workgroup memory, subgroups), or null. */
export function flashPlanDefect(
  plan: FlashPlan,
  { shape, limits, subgroupMinSize }: Pick<PlanRequest, 'shape' | 'limits' | 'subgroupMinSize'>,
): string | null {
  const bytes = flashTileBytes(shape, plan.bk);
  const maxWg = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  if (plan.wg % FLASH_LANES !== 0 || plan.wg < FLASH_LANES || plan.wg > maxWg)
    return `wg=${plan.wg}: whole groups of ${FLASH_LANES} lanes within the device's workgroup`;
  if (!Number.isInteger(plan.rpi) || plan.rpi < 1 || plan.rpi > FLASH_MAX_RPI)
    return `rpi=${plan.rpi}: 1 to ${FLASH_MAX_RPI} rows per invocation`;
  if (plan.bk % FLASH_LANES !== 0 || plan.bk < FLASH_LANES) return `bk=${plan.bk}: whole blocks of ${FLASH_LANES} tokens`;
  if (bytes > limits.maxComputeWorkgroupStorageSize)
    return `K/V tiles of ${plan.bk} tokens take ${bytes} bytes of workgroup memory (the device has ${limits.maxComputeWorkgroupStorageSize})`;
  return noSubgroups('the flash kernel shares K/V vec4s', subgroupMinSize);
}

/** Workgroup memory of attention_flash.wgsl's K and V tiles of `bk` tokens (f32 vec4s). */
export function flashTileBytes(shape: AttentionShape, bk: number): number {
  return 16 * bk * (ceilDiv(shape.dQk, 4) + ceilDiv(shape.dV, 4));
}

/** attention_flash.wgsl's private array lengths (consts ahead of the source): q and output rows, a tile's scores, a head-dim block. */
export function flashSizes(plan: FlashPlan, shape: AttentionShape): Record<string, number> {
  return {
    MAXQ: plan.rpi * ceilDiv(shape.dQk, 4),
    MAXV: plan.rpi * ceilDiv(shape.dV, 4),
    MAXS: (2 * plan.rpi * plan.bk) / FLASH_LANES,
    MAXB: FLASH_LANES * plan.rpi,
  };
}

/** Token tiles tried, largest first (a larger tile reads q and the output rows less often). */
export const FLASH_TOKEN_TILES = [64, 32, 16, 8];
/** Workgroups tried, largest first: each K/V tile staged once for more rows. */
const FLASH_WORKGROUPS = [128, 64, 32];
/** Row blocks a KV head keeps at least, where it has the rows: a causal head's blocks see unequal token counts. */
const FLASH_MIN_ROW_BLOCKS = 4;
/**
 * Private rows per invocation (q and output, vec4s) the default plan stays within. In registers: one row of head
 * dim 128. On a CPU adapter's stack there is no occupancy to lose, and each staged K/V vec4 a lane loads (the cost
 * that bounds it there) feeds every row it holds: two rows of head dim 128 (three or four measured no faster).
 */
const FLASH_ROW_VEC4: Record<PrivateMemory, number> = { registers: 64, stack: 128 };

/**
 * The flash kernel's default plan: rows per invocation while q and output rows stay within FLASH_ROW_VEC4 vec4s
 * (on a GPU 1 row at head dim 128, 2 at 64); the largest workgroup that leaves a KV head FLASH_MIN_ROW_BLOCKS row
 * blocks; the largest token tile whose K and V tiles fit the workgroup memory.
 */
function flashStrategy(request: PlanRequest): FlashPlan | string {
  if (request.phase !== 'prefill') return 'the flash kernel serves the prefill phase';
  if (request.wishes.prefillKernel === 'tiled') return 'prefill_kernel=tiled asked for';
  const { shape } = request;
  const rowVec4 = ceilDiv(shape.dQk, 4) + ceilDiv(shape.dV, 4);
  const rpi = Math.max(1, Math.min(FLASH_MAX_RPI, Math.floor(FLASH_ROW_VEC4[request.privateMemory] / rowVec4)));
  const rows = queryRows(shape);
  const wg = FLASH_WORKGROUPS.find((w) => rows >= FLASH_MIN_ROW_BLOCKS * w * rpi) ?? FLASH_WORKGROUPS.at(-1)!;
  let defect = 'no token tile';
  for (const bk of FLASH_TOKEN_TILES) {
    const plan: FlashPlan = { kind: 'flash', wg, rpi, bk };
    const why = flashPlanDefect(plan, request);
    if (why === null) return plan;
    defect = why;
  }
  return defect;
}

/**
 * Rows tiling, tuned on lavapipe: splits until there are ROWS_TARGET_INVOCATIONS invocations, each walking at
 * least ROWS_MIN_SPLIT_TOKENS x rows-per-invocation tokens (a one-row walk is bound by its loads and gains from
 * more, shorter walks; a many-row walk is bound by its FMAs and gains from longer ones); workgroups of up to
 * ROWS_WORKGROUP invocations but at least ~8 workgroups, so that every core gets some.
 */
const ROWS_WORKGROUP = 64;
const ROWS_TARGET_INVOCATIONS = 1024;
const ROWS_MIN_SPLIT_TOKENS = 64;
/** Private row buffers of attention_rows.wgsl, in vec4s and rows (MAXQ, MAXV, MAX_RPI). */
export const ROWS_MAX_VEC4 = 258;
export const ROWS_MAX_RPI = 8;

/** The per-invocation rows kernel: rows per invocation as many as its private buffers hold (each K/V load feeds them all). */
function rowsStrategy({ shape, phase, wishes }: PlanRequest): RowsPlan | string {
  const rows = queryRows(shape);
  const widest = Math.max(ceilDiv(shape.dQk, 4), ceilDiv(shape.dV, 4));
  const fit = Math.min(ROWS_MAX_RPI, Math.floor(ROWS_MAX_VEC4 / widest));
  if (wishes.rowsPerInvocation === undefined && fit < 1)
    return `head dims ${shape.dQk}/${shape.dV} exceed the rows tiling's ${ROWS_MAX_VEC4 * 4}-element row buffers`;
  const rpi = wishes.rowsPerInvocation ?? Math.min(fit, pow2Floor(rows));
  const rowGroups = ceilDiv(rows, rpi);
  const chunk =
    phase === 'prefill' && wishes.splits === undefined
      ? longestKv(shape)
      : splitChunk(shape, rowGroups, 4, wishes.splits, ROWS_TARGET_INVOCATIONS, ROWS_MIN_SPLIT_TOKENS * rpi);
  const invocations = shape.batch * shape.nKv * ceilDiv(longestKv(shape), chunk) * rowGroups;
  // Few workgroup sizes (fewer pipelines to compile); spare invocations return at once.
  const wg = wishes.rowsWorkgroup ?? Math.min(ROWS_WORKGROUP, Math.max(8, pow2Floor(invocations / 8)));
  return { kind: 'rows', rpi, wg, chunk };
}

/** Subgroup lanes the subgroup rows and columns kernels work across. */
export const SUBGROUP_ROWS_LANES = 8;
/**
 * Largest private rows of attention_rows_subgroup.wgsl in vec4s (q, accumulators: MLA's two 576 / 512-wide rows)
 * and rows per invocation (MAX_RPI). A plan sizes them to its shape (MAXQ, MAXV): every private variable is
 * zeroed when an invocation starts, which with the largest rows cost 5% of the MHA prefill on lavapipe.
 */
export const SUBGROUP_ROWS_MAXQ = 586;
export const SUBGROUP_ROWS_MAXV = 522;
export const SUBGROUP_ROWS_MAX_RPI = 8;

export function noSubgroups(kernel: string, subgroupMinSize: number | undefined): string | null {
  if (subgroupMinSize !== undefined && subgroupMinSize >= SUBGROUP_ROWS_LANES) return null;
  return `${kernel} across ${SUBGROUP_ROWS_LANES} subgroup lanes; this adapter has ${subgroupMinSize === undefined ? 'no subgroups' : `subgroups of ${subgroupMinSize}`}`;
}

/**
 * The rows tiling with subgroup-cooperative loads (kernels/attention_rows_subgroup.wgsl): a workgroup holds
 * WG x RPI query rows of one KV head, which walk the same tokens. Decode: the rows of a KV head in as few
 * workgroups as fit and enough token splits for ~16 workgroups (>= 128 tokens each). Prefill: one split and
 * small row blocks (one subgroup), so that causal blocks stop at their last row's position.
 */
export function subgroupRowsPlan(
  shape: AttentionShape,
  phase: AttentionPhase,
  limits: DeviceLimits,
  subgroupMinSize: number | undefined,
  wanted: { rpi?: number; wg?: number; splits?: number } = {},
): SubgroupRowsPlan | string {
  const unsupported = noSubgroups('the subgroup rows kernel shares loads', subgroupMinSize);
  if (unsupported) return unsupported;
  const [dq4, dv4] = [ceilDiv(shape.dQk, 4), ceilDiv(shape.dV, 4)];
  const fit = Math.min(SUBGROUP_ROWS_MAX_RPI, Math.floor(SUBGROUP_ROWS_MAXQ / dq4), Math.floor(SUBGROUP_ROWS_MAXV / dv4));
  if (fit < 1)
    return `head dims ${shape.dQk}/${shape.dV} exceed the subgroup rows kernel's private rows (${SUBGROUP_ROWS_MAXQ * 4}/${SUBGROUP_ROWS_MAXV * 4} elements)`;
  const rows = queryRows(shape);
  const rpi = Math.min(wanted.rpi ?? 2, fit, rows);
  if (rpi < 1 || rpi > fit) return `${rpi} rows per invocation: the private rows hold 1 to ${fit} at head dims ${shape.dQk}/${shape.dV}`;
  const lanes = Math.max(SUBGROUP_ROWS_LANES, pow2Ceil(ceilDiv(rows, rpi)));
  const wg = wanted.wg ?? Math.min(phase === 'prefill' ? SUBGROUP_ROWS_LANES : 64, limits.maxComputeInvocationsPerWorkgroup, lanes);
  const chunk = splitChunk(shape, ceilDiv(rows, wg * rpi), 8, wanted.splits ?? (phase === 'prefill' ? 1 : undefined), 16, 128);
  // One split of a prefill: the attend normalises and writes the output itself (no partials, no reduce).
  const output = phase === 'prefill' && chunk >= longestKv(shape) ? 'direct' : 'partials';
  return { kind: 'rows-subgroup', rpi, wg, chunk, output };
}

function subgroupRowsStrategy({ shape, phase, limits, subgroupMinSize, wishes }: PlanRequest): SubgroupRowsPlan | string {
  if (queryRows(shape) < SUBGROUP_ROWS_LANES)
    return `fewer than ${SUBGROUP_ROWS_LANES} query rows per KV head for the subgroup rows kernel`;
  const { rowsPerInvocation: rpi, rowsWorkgroup: wg, splits } = wishes;
  return subgroupRowsPlan(shape, phase, limits, subgroupMinSize, {
    ...(rpi !== undefined && { rpi }),
    ...(wg !== undefined && { wg }),
    ...(splits !== undefined && { splits }),
  });
}

/** Columns kernel (kernels/attention_columns.wgsl): lanes split the head dims, so head dims up to 8 x 8 vec4s. */
export const COLUMNS_MAX_VEC4 = 64;
export const COLUMNS_MAX_ROWS = 8;

/**
 * The rows tiling's kernel for KV heads with fewer query rows than a subgroup has lanes (MHA and small-group
 * GQA decode, MLA's naive attend): one subgroup of 8 lanes per sequence, KV head, split and up to 8 rows, the
 * lanes splitting the head dims. Splits as the per-invocation rows kernel takes them (one per workgroup here).
 * Not where the caller asked for rows per invocation (the per-invocation kernel's tunable).
 */
function columnsStrategy({ shape, phase, subgroupMinSize, wishes }: PlanRequest): ColumnsPlan | string {
  if (wishes.rowsPerInvocation !== undefined) return 'rows per invocation asked for: the per-invocation rows kernel';
  const unsupported = noSubgroups('the columns kernel sums', subgroupMinSize);
  if (unsupported) return unsupported;
  if (Math.max(ceilDiv(shape.dQk, 4), ceilDiv(shape.dV, 4)) > COLUMNS_MAX_VEC4)
    return `head dims ${shape.dQk}/${shape.dV} exceed the columns kernel's ${COLUMNS_MAX_VEC4 * 4}`;
  const r = Math.min(queryRows(shape), COLUMNS_MAX_ROWS);
  const chunk =
    phase === 'prefill' && wishes.splits === undefined
      ? longestKv(shape)
      : splitChunk(shape, ceilDiv(queryRows(shape), r), 4, wishes.splits, ROWS_TARGET_INVOCATIONS, ROWS_MIN_SPLIT_TOKENS);
  return { kind: 'columns', r, chunk };
}

/** Each tiling's strategies, in the order tried. */
export const TILING_STRATEGIES: Record<AttentionTiling, readonly AttentionStrategy[]> = {
  // By phase: the split-KV decode kernel; for prefill the flash kernel, else the tiled one.
  workgroup: [decodeStrategy, flashStrategy, prefillStrategy],
  rows: [subgroupRowsStrategy, columnsStrategy, rowsStrategy],
};
