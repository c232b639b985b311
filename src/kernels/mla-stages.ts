import { RMS_NORM_EPS } from '../reference/mla.js';
import type { AttentionTiling } from './attention-shape.js';
import { ceilDiv, paramsUniform } from './build.js';
import { emitGemm, gemmSlot, planDefect, planGemm, preferredKinds, type GemmDevice, type GemmProblem, type Operand } from './gemm.js';
import { grid2d } from './family.js';
import { SHADERS, type Shader } from './shaders.js';
import { elementBytes, type BufferDecl, type Dtype, type StageDecl, type Work } from './spec.js';
import { overrideOf, type PlanOverrides, type TunableSlot } from './tunable.js';

/** The MLA family's stages: its matrix products through the GEMM family, row copy + RoPE and RMSNorm kernels. */

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

/** A stage's operand in the GEMM family's terms. */
function operand([buffer, addr]: Rows): Operand {
  return {
    buffer,
    rows: {
      offset: addr.off ?? 0,
      batchStride: addr.zs ?? 0,
      rowStride: addr.row,
      ...(addr.seg !== undefined && { segment: { rows: addr.seg, stride: addr.outer ?? 0 } }),
    },
  };
}

/** A case's stage list: each helper adds its uniform (u<i>_<stage>) and its dispatch. */
export class StageList {
  buffers: BufferDecl[] = [];
  stages: StageDecl[] = [];
  /** Each GEMM stage's plan as a tunable slot, named by its stage. */
  readonly tunables: TunableSlot[] = [];
  private count = 0;

  constructor(
    private readonly dtype: Dtype,
    private readonly tiling: AttentionTiling,
    private readonly device: GemmDevice,
    /** Plans for some GEMM stages, by stage name, taken as given (BuildContext.plans). */
    private readonly plans?: PlanOverrides,
  ) {}

  private uniformName(name: string): string {
    return `u${this.count++}_${name}`;
  }

  private grid(workgroups: number): [number, number] {
    return grid2d(workgroups, this.device.limits.maxComputeWorkgroupsPerDimension);
  }

  /** C[z] = A[z] B[z] through the GEMM family: the stage's given plan, else the one its strategy picks for the shape and the device. */
  gemm(name: string, phase: string, g: GemmShape): void {
    const problem: GemmProblem = {
      m: g.m,
      n: g.n,
      k: g.k,
      batch: g.z,
      dtype: this.dtype,
      a: operand(g.a),
      b: operand(g.b),
      c: operand(g.c),
    };
    const given = overrideOf(this.plans, name, 'gemm');
    const picked = planGemm(problem, this.device, this.tiling);
    const plan = given ? (planDefect(problem, given, this.device) ?? given) : picked;
    if (typeof plan === 'string') throw new Error(`mla ${name}: no GEMM plan fits: ${plan}`);
    const defaultPlan = typeof picked === 'string' ? null : picked;
    this.tunables.push(
      gemmSlot(name, problem, this.device, this.tiling, preferredKinds(problem, this.tiling), { chosen: plan, defaultPlan }),
    );
    const emitted = emitGemm(problem, plan, { name, phase }, this.device.limits);
    this.buffers.push(...emitted.buffers);
    this.stages.push(emitted.stage);
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
