import type { DeviceLimits } from '../core/device-facts.js';
import { queryRows, type AttentionShape } from './attention-shape.js';
import { ceilDiv, pow2Ceil } from './build.js';

/**
 * Compile-time tilings of the workgroup-tiled attend kernels (attention_decode.wgsl, attention_prefill.wgsl; the
 * names are their overrides) and the choice of one: every candidate that fits the registers and the workgroup
 * memory, scored, the best (the first on a tie) taken.
 */

/** Per-invocation register budget of the kernels (vec4 accumulators; MAX_ACC / MAX_ROWS in WGSL). */
const MAX_ACC = 16;
const MAX_ROWS = 16;

/** attention_prefill.wgsl's tiling: WG invocations, BR query rows, BK tokens per tile, SC score lanes, OC x ORG output lanes. */
export interface PrefillTiles {
  WG: number;
  BR: number;
  BK: number;
  SC: number;
  OC: number;
  ORG: number;
}

/** attention_decode.wgsl's tiling: the prefill's, and score rows in passes of RCH. */
export interface DecodeTiles extends PrefillTiles {
  RCH: number;
}

/** The lane layout a tiling implies (WGSL: S_RG, S_TR, S_TC, O_TR, O_TC, TG). */
function lanes(t: PrefillTiles, dv4: number): { sRg: number; sTr: number; sTc: number; oTr: number; oTc: number; tg: number } {
  const sRg = t.WG / t.SC;
  return { sRg, sTr: ceilDiv(t.BR, sRg), sTc: t.BK / t.SC, oTr: ceilDiv(t.BR, t.ORG), oTc: ceilDiv(dv4, t.OC), tg: t.WG / (t.OC * t.ORG) };
}

function lanesProblem(l: ReturnType<typeof lanes>): string | null {
  return [l.sRg, l.sTc, l.tg].every((n) => Number.isInteger(n) && n >= 1) ? null : 'lanes do not divide the workgroup';
}

/** Why a decode tiling cannot run (registers, workgroup memory), or null. */
function decodeProblem(t: DecodeTiles, dv4: number, budget: number): string | null {
  const l = lanes(t, dv4);
  const merge = Math.max(1, (l.tg - 1) * t.BR * dv4);
  const bytes = 4 * t.BR * t.BK + 20 * t.BR + 4 * t.BR * l.tg + 16 * merge;
  if (lanesProblem(l)) return lanesProblem(l);
  if (t.RCH * l.sTc > MAX_ACC || t.RCH > l.sTr) return `${t.RCH * l.sTc} score accumulators per invocation`;
  if (l.oTr * l.oTc > MAX_ACC) return `${l.oTr * l.oTc} output accumulators per invocation`;
  return bytes > budget ? `${bytes} bytes of workgroup memory` : null;
}

/** Why a prefill tiling cannot run, or null. */
function prefillProblem(t: PrefillTiles, dq4: number, dv4: number, budget: number): string | null {
  const l = lanes(t, dv4);
  const kvSize = t.BK * Math.max(dq4 | 1, dv4 | 1);
  const bytes = 16 * t.BR * dq4 + 16 * kvSize + 4 * t.BR * t.BK + 12 * t.BR + 4 * t.BR * l.tg;
  if (lanesProblem(l)) return lanesProblem(l);
  if (l.sTr * l.sTc > MAX_ACC) return `${l.sTr * l.sTc} score accumulators per invocation`;
  if (l.oTr * l.oTc > MAX_ACC || l.oTr > MAX_ROWS) return `${l.oTr * l.oTc} output accumulators per invocation`;
  if ((l.tg - 1) * t.BR * dv4 > kvSize) return 'token-group merge does not fit the K/V tile';
  return bytes > budget ? `${bytes} bytes of workgroup memory` : null;
}

/** The highest-scoring candidate, the first of equals. */
function best<T>(candidates: readonly T[], score: (tiles: T) => number): T | undefined {
  let found: { tiles: T; score: number } | undefined;
  for (const tiles of candidates) {
    const value = score(tiles);
    if (!found || value > found.score) found = { tiles, score: value };
  }
  return found?.tiles;
}

/** Workgroup sizes and row blocks to try (or the caller's), with the output lanes each implies. */
function shapes(
  shape: AttentionShape,
  limits: DeviceLimits,
  wanted: Partial<PrefillTiles>,
  rowBlocks: readonly number[],
): { WG: number; BR: number; OC: number; ORG: number }[] {
  const maxWg = Math.min(256, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const wgs = wanted.WG !== undefined ? [wanted.WG] : [32, 64, 128, 256].filter((wg) => wg <= maxWg);
  const brs = wanted.BR !== undefined ? [wanted.BR] : rowBlocks.filter((br) => br <= pow2Ceil(queryRows(shape)));
  return wgs.flatMap((WG) =>
    brs.map((BR) => {
      const OC = wanted.OC ?? Math.min(pow2Ceil(ceilDiv(shape.dV, 4)), WG);
      return { WG, BR, OC, ORG: wanted.ORG ?? Math.min(BR, WG / OC) };
    }),
  );
}

/**
 * Decode tiling. All query rows of a KV head (q_len x group) in one workgroup when the output accumulators
 * fit the registers (so K/V is read once per KV head), else the fewest row blocks; token lanes for the
 * scores, vec4-column lanes for the output; workgroup memory only holds one tile of probabilities.
 */
export function chooseDecodeTiles(shape: AttentionShape, limits: DeviceLimits, wanted: Partial<DecodeTiles> = {}): DecodeTiles | string {
  const rows = queryRows(shape);
  const dv4 = ceilDiv(shape.dV, 4);
  const budget = limits.maxComputeWorkgroupStorageSize;
  const fitting = shapes(shape, limits, wanted, [128, 64, 32, 16, 8, 4, 2, 1])
    .map(({ WG, BR, OC, ORG }): DecodeTiles => {
      const BK = wanted.BK ?? 64;
      const SC = wanted.SC ?? Math.min(BK, WG);
      const RCH = wanted.RCH ?? Math.min(ceilDiv(BR, WG / SC), Math.floor(MAX_ACC / (BK / SC)));
      return { WG, BR, BK, SC, RCH, OC, ORG };
    })
    .filter((tiles) => decodeProblem(tiles, dv4, budget) === null);
  // Fewest K/V re-reads first, then the fewest idle rows, then workgroups near 64 invocations.
  const tiles = best(
    fitting,
    ({ WG, BR }) => -ceilDiv(rows, BR) * 1e6 - (ceilDiv(rows, BR) * BR - rows) * 1e3 - Math.abs(Math.log2(WG / 64)),
  );
  return tiles ?? `no decode tiling fits ${budget} bytes of workgroup memory and ${MAX_ACC} accumulators for d_v=${shape.dV}`;
}

/** Prefill tiling: the largest row block (Q reuse of every K/V tile) and KV tile that fit. */
export function choosePrefillTiles(shape: AttentionShape, limits: DeviceLimits, wanted: Partial<PrefillTiles> = {}): PrefillTiles | string {
  const [dq4, dv4] = [ceilDiv(shape.dQk, 4), ceilDiv(shape.dV, 4)];
  const budget = limits.maxComputeWorkgroupStorageSize;
  const fitting = shapes(shape, limits, wanted, [64, 32, 16, 8, 4, 2, 1]).flatMap(({ WG, BR, OC, ORG }): PrefillTiles[] => {
    // The largest KV tile that fits (a larger one always scores higher).
    for (const BK of wanted.BK !== undefined ? [wanted.BK] : [64, 32, 16, 8]) {
      const tiles = { WG, BR, BK, SC: wanted.SC ?? Math.min(BK, WG), OC, ORG };
      if (prefillProblem(tiles, dq4, dv4, budget) === null) return [tiles];
    }
    return [];
  });
  const tiles = best(fitting, ({ WG, BR, BK }) => BR * 100 + BK - WG / 64);
  return tiles ?? `no prefill tiling fits ${budget} bytes of workgroup memory for d_qk=${shape.dQk}, d_v=${shape.dV}`;
}
