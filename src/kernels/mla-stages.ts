import type { DeviceLimits } from '../core/device-facts.js';
import { RMS_NORM_EPS } from '../reference/mla.js';
import type { AttentionTiling } from './attention-shape.js';
import { ceilDiv, paramsUniform, pow2Ceil, pow2Floor } from './build.js';
import { grid2d } from './family.js';
import { SHADERS, type Shader } from './shaders.js';
import { elementBytes, type BufferDecl, type Dtype, type StageDecl, type Work } from './spec.js';
import type { GemmPlan as FamilyGemmPlan } from './gemm/plan.js';
import type { GemmProblem } from './gemm/problem.js';
import { gemmPlanSpace } from './gemm/space.js';
import { overrideOf, type PlanOverrides, type TunableSlot } from './tunable.js';

/** The MLA family's small kernels (GEMM, row copy + RoPE, RMSNorm) as stages, each with its own uniform. */

/** Element addressing of rows (see kernels/include/mla_addr.wgsl): (z, m) -> off + z zs + (m / seg) outer + (m % seg) row. */
export interface RowAddr {
  off?: number;
  zs?: number;
  outer?: number;
  row: number;
  seg?: number;
}

/** A buffer and how its rows are addressed. */
export type Rows = [buffer: string, addr: RowAddr];

/** The kernels' Addr struct, in units of `unit` elements (4: the GEMM's vec4s). */
function addrValues(addr: RowAddr, unit: number): { off: number; zs: number; outer: number; row: number; seg: number } {
  const [off, zs, outer, row] = [addr.off ?? 0, addr.zs ?? 0, addr.outer ?? 0, addr.row];
  if ([off, zs, outer, row].some((w) => w % unit !== 0))
    throw new Error(`mla: address ${JSON.stringify(addr)} is not in whole vec${unit}s`);
  return { off: off / unit, zs: zs / unit, outer: outer / unit, row: row / unit, seg: addr.seg ?? 0x7fffffff };
}

/** C[z] = A[z] B[z]: m x k times k x n, z batches. */
export interface GemmShape {
  m: number;
  n: number;
  k: number;
  z: number;
  a: Rows;
  b: Rows;
  c: Rows;
}

/** kernels/mla_gemm.wgsl's tiling: TM rows x TN vec4 columns per invocation, WG invocations along n. */
export interface GemmPlan {
  readonly kind: 'mla-gemm';
  readonly TM: number;
  readonly TN: number;
  readonly WG: number;
}

/** The GEMM tiling for a shape: register tiles as large as the rows allow, narrower for matrix-vector products. */
export function planGemm(m: number, n: number, tiling: AttentionTiling): GemmPlan {
  // Rows per invocation up to 8 (CPU adapters) or 4, but no more than there are: decode GEMMs have one row.
  const TM = Math.min(tiling === 'rows' ? 8 : 4, pow2Floor(m));
  // CPU adapters: each invocation streams a contiguous run of up to 8 vec4 columns (16 accumulators in all).
  // Matrix-vector products (one row: decode's absorb-q / absorb-o) stream best with one column per
  // invocation and workgroups of <= 32 (measured on lavapipe: 1.7x faster than 4 columns in 32-lane groups).
  let TN = tiling === 'rows' && TM > 1 ? 8 : 1;
  while (TN > 1 && (TN * TM > 16 || TN * 8 > n / 4)) TN /= 2;
  const WG = tiling === 'rows' ? Math.min(TM > 1 ? 64 : 32, Math.max(8, pow2Ceil(ceilDiv(n / 4, TN)))) : 64;
  return { kind: 'mla-gemm', TM, TN, WG };
}

/** The GEMM family's view of a stage's product (for its plan space). */
function gemmProblemOf(g: GemmShape, dtype: Dtype): GemmProblem {
  const operand = ([buffer, addr]: Rows): GemmProblem['a'] => ({
    buffer,
    rows: {
      ...(addr.off !== undefined && { offset: addr.off }),
      ...(addr.zs !== undefined && { batchStride: addr.zs }),
      rowStride: addr.row,
      ...(addr.seg !== undefined && { segment: { rows: addr.seg, stride: addr.outer ?? 0 } }),
    },
  });
  return { m: g.m, n: g.n, k: g.k, batch: g.z, dtype, a: operand(g.a), b: operand(g.b), c: operand(g.c) };
}

/** A case's stage list: each helper adds its uniform (u<i>_<stage>) and its dispatch. */
export class StageList {
  buffers: BufferDecl[] = [];
  stages: StageDecl[] = [];
  private count = 0;

  /** Each GEMM stage's plan as a tunable slot, named by its stage. */
  readonly tunables: TunableSlot[] = [];

  constructor(
    private readonly dtype: Dtype,
    private readonly tiling: AttentionTiling,
    private readonly limits: DeviceLimits,
    private readonly plans?: PlanOverrides,
  ) {}

  private uniformName(name: string): string {
    return `u${this.count++}_${name}`;
  }

  private grid(workgroups: number): [number, number] {
    return grid2d(workgroups, this.limits.maxComputeWorkgroupsPerDimension);
  }

  /** C[z] = A[z] B[z] (see kernels/mla_gemm.wgsl), tiled by `plan`, by the override for slot `name`, or by planGemm. */
  gemm(name: string, phase: string, g: GemmShape, given?: GemmPlan): void {
    const plan = given ?? this.tunedGemm(name, g) ?? planGemm(g.m, g.n, this.tiling);
    this.emitGemm(name, phase, g, plan);
  }

  /** The slot's override where it is a mla_gemm plan (the kernel these stages run); the slot recorded either way. */
  private tunedGemm(name: string, g: GemmShape): GemmPlan | undefined {
    const tuned = overrideOf(this.plans, name, 'gemm');
    const plan: GemmPlan | undefined = tuned?.kind === 'mla-gemm' ? { kind: 'mla-gemm', TM: tuned.tm, TN: tuned.tn, WG: tuned.wg } : undefined;
    const chosen = plan ?? planGemm(g.m, g.n, this.tiling);
    const device = { limits: this.limits, features: new Set<never>() };
    const problem = gemmProblemOf(g, this.dtype);
    const asFamily: FamilyGemmPlan = { kind: 'mla-gemm', wg: chosen.WG, tm: chosen.TM, tn: chosen.TN };
    this.tunables.push({
      name,
      chosen: { family: 'gemm', plan: asFamily },
      space: () => gemmPlanSpace(problem, device, this.tiling, ['mla-gemm'], asFamily).map((p) => ({ family: 'gemm', plan: p })),
    });
    return plan;
  }

  private emitGemm(name: string, phase: string, g: GemmShape, plan: GemmPlan): void {
    const elem = elementBytes(this.dtype);
    const n4 = g.n / 4;
    const nBlocks = ceilDiv(n4, plan.WG * plan.TN);
    const rowBlocks = ceilDiv(g.m, plan.TM);
    const [x, y] = this.grid(nBlocks * rowBlocks);
    const params = this.uniformName(name);
    const [a, b, c] = [addrValues(g.a[1], 4), addrValues(g.b[1], 4), addrValues(g.c[1], 4)];
    this.buffers.push(
      paramsUniform(params, SHADERS.mlaGemm, { m: g.m, n4, k4: g.k / 4, n_blocks: nBlocks, row_blocks: rowBlocks, a, b, c }),
    );
    const aReads = (g.a[1].zs ? g.z : 1) * g.m * g.k;
    const bReads = (g.b[1].zs ? g.z : 1) * g.k * g.n;
    this.stages.push({
      name,
      phase,
      shader: SHADERS.mlaGemm.file,
      dtype: this.dtype,
      constants: { WG: plan.WG, TM: plan.TM, TN: plan.TN },
      bindings: [params, g.a[0], g.b[0], g.c[0]],
      workgroups: [x, y, g.z],
      work: { flops: 2 * g.m * g.n * g.k * g.z, bytesRead: (aReads + bReads) * elem, bytesWritten: g.z * g.m * g.n * elem },
    });
  }

  /** A one-invocation-per-row kernel's dispatch (RoPE, RMSNorm). */
  private rowStage(name: string, phase: string, shader: Shader, bindings: string[], rows: number, work: Work): void {
    const wg = 64;
    this.stages.push({
      name,
      phase,
      shader: shader.file,
      dtype: this.dtype,
      constants: { WG: wg },
      bindings,
      workgroups: this.grid(ceilDiv(rows, wg)),
      work,
    });
  }

  /** Per row: copy `copy` elements, rotate the next `rot` (see kernels/mla_rope.wgsl). */
  rope(
    name: string,
    phase: string,
    r: { m: number; z: number; copy: number; rot: number; posSeg: number; src: Rows; table: string; dst: Rows },
  ): void {
    const elem = elementBytes(this.dtype);
    const params = this.uniformName(name);
    const [src, dst] = [addrValues(r.src[1], 1), addrValues(r.dst[1], 1)];
    this.buffers.push(paramsUniform(params, SHADERS.mlaRope, { m: r.m, z: r.z, copy: r.copy, rot: r.rot, pos_seg: r.posSeg, src, dst }));
    const rows = r.m * r.z;
    const bytes = rows * (r.copy + r.rot) * elem;
    this.rowStage(name, phase, SHADERS.mlaRope, [params, r.src[0], r.table, r.dst[0]], rows, {
      flops: 3 * rows * r.rot,
      bytesRead: bytes + r.posSeg * r.rot * 4,
      bytesWritten: bytes,
    });
  }

  /** Per row of d elements: RMSNorm with a gain vector (see kernels/mla_rmsnorm.wgsl). */
  rmsNorm(name: string, phase: string, r: { m: number; d: number; src: Rows; gain: string; dst: Rows }): void {
    const elem = elementBytes(this.dtype);
    const params = this.uniformName(name);
    const [src, dst] = [addrValues(r.src[1], 1), addrValues(r.dst[1], 1)];
    this.buffers.push(paramsUniform(params, SHADERS.mlaRmsNorm, { m: r.m, d: r.d, eps: RMS_NORM_EPS, src, dst }));
    this.rowStage(name, phase, SHADERS.mlaRmsNorm, [params, r.src[0], r.gain, r.dst[0]], r.m, {
      flops: 4 * r.m * r.d,
      bytesRead: (r.m + 1) * r.d * elem,
      bytesWritten: r.m * r.d * elem,
    });
  }

  /** Stages and buffers emitted elsewhere (the attention core), each stage with its phase. */
  add(emitted: { buffers: BufferDecl[]; stages: StageDecl[] }): void {
    this.buffers.push(...emitted.buffers);
    this.stages.push(...emitted.stages.map((stage) => ({ ...stage, phase: stage.phase ?? stage.name })));
  }
}
