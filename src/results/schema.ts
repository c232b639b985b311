import { z } from 'zod';
import { BACKENDS, POWER_PREFERENCES } from '../core/gpu-options.js';

export const RESULTS_SCHEMA_ID = 'mla-bench/results';
/** Files of older versions are brought to this one as they are read (migrate.ts): one step per version. */
export const RESULTS_SCHEMA_VERSION = 8;

const finite = z.number();
/** NaN and Infinity do not survive JSON: numerics keep them as text. */
const numberOrText = z.union([z.number(), z.string()]);

export const StatisticsSchema = z.object({
  n: z.number().int().nonnegative(),
  mean: finite,
  median: finite,
  min: finite,
  max: finite,
  q1: finite,
  q3: finite,
  p90: finite,
  p99: finite,
  stdev: finite,
  relStdev: finite,
  ci95: z.object({ lo: finite, hi: finite }),
  relCi95: z.number(),
  outliers: z.number().int().nonnegative(),
});

export const TimingSchema = z.object({
  mode: z.enum(['batch', 'cold']),
  timer: z.enum(['timestamp', 'wall']),
  repeats: z.number().int().positive(),
  /** Dispatches in one repeat (one per stage). */
  dispatches: z.number().int().positive(),
  stopReason: z.enum(['converged', 'max-samples', 'timeout']),
  elapsedMs: finite,
  /** Per-repeat GPU milliseconds. */
  gpu: StatisticsSchema,
  /** Submit-to-done milliseconds of each sample's submission. */
  wall: StatisticsSchema,
  samplesMs: z.array(finite),
  wallSamplesMs: z.array(finite),
  /** Visits pooled in the samples above (absent: one). */
  visits: z.number().int().positive().optional(),
  /** Each visit's median, in visit order (absent with one visit): how far the machine moved between them. */
  visitMediansMs: z.array(finite).optional(),
});

export const WorkSchema = z.object({ flops: finite, bytesRead: finite, bytesWritten: finite });

export const RatesSchema = z.object({
  gflops: finite,
  gbps: finite,
  intensity: finite,
  memoryFraction: z.number().nullable(),
  computeFraction: z.number().nullable(),
  bound: z.enum(['memory', 'compute', 'overhead', 'unknown']),
});

/**
 * One named stage of a multi-stage case, timed in its own timestamped pass: inside its pipeline (the other
 * stages around it untimed), or alone (on adapters without timestamp queries, and in version-1 files from
 * before in-pipeline timing).
 */
export const StageTimingSchema = z.object({
  name: z.string(),
  dispatches: z.number().int().positive(),
  work: WorkSchema,
  repeats: z.number().int().positive(),
  stopReason: z.enum(['converged', 'max-samples', 'timeout']),
  gpu: StatisticsSchema,
  rates: RatesSchema,
  samplesMs: z.array(finite),
});
export type StageTiming = z.infer<typeof StageTimingSchema>;

/**
 * The whole case sampled in the same rounds as its stages (each round: one sample of it and one of each
 * stage), so that end to end minus the sum of the stages is a paired difference. samplesMs[i] and every
 * stage's samplesMs[i] come from round i.
 */
export const PairedEndToEndSchema = z.object({
  /** How the paired end to end was timed. */
  timer: z.enum(['timestamp', 'wall']),
  repeats: z.number().int().positive(),
  gpu: StatisticsSchema,
  samplesMs: z.array(finite),
});
export type PairedEndToEnd = z.infer<typeof PairedEndToEndSchema>;

/**
 * A minimal dispatch in its own timestamped pass, sampled in the same rounds as the stages (samplesMs[i]: round
 * i): the floor of a stage's time when timed in its own pass, so a stage near it is mostly pass overhead.
 */
export const PassProbeSchema = z.object({
  repeats: z.number().int().positive(),
  gpu: StatisticsSchema,
  samplesMs: z.array(finite),
});
export type PassProbe = z.infer<typeof PassProbeSchema>;

const BytesByRoleSchema = z.object({
  weights: finite,
  'kv-cache': finite,
  activations: finite,
  scratch: finite,
});

export const MemorySchema = z.object({
  peakBytes: finite,
  peakByRole: BytesByRoleSchema,
  maxByRole: BytesByRoleSchema,
});

export const CheckSchema = z.object({
  buffer: z.string(),
  passed: z.boolean(),
  checked: z.number().int(),
  mismatches: z.number().int(),
  maxAbsError: numberOrText,
  maxRelError: numberOrText,
  /** max |a - e| / max |e|; null where it was not recorded (version-1 files from before it was). */
  normRelError: numberOrText.nullable(),
  worstIndex: z.number().int(),
  worstActual: numberOrText,
  worstExpected: numberOrText,
  tolerance: z.object({ atol: finite, rtol: finite }),
  /** Present when only some output rows were compared (the full float64 reference would cost minutes). */
  sampledRows: z.object({ checked: z.number().int(), total: z.number().int() }).optional(),
});
export type CheckResult = z.infer<typeof CheckSchema>;

export const NumericsSchema = z.object({
  passed: z.boolean(),
  checks: z.array(CheckSchema),
});

export const TransfersSchema = z.object({
  uploadBytes: finite,
  uploadMs: finite,
  readbackBytes: finite,
  readbackMs: finite,
});

/** A series of a peer's samples (milliseconds) and its statistics. */
export const PeerSeriesSchema = z.object({ stats: StatisticsSchema, samplesMs: z.array(finite) });

/** One program a peer dispatched per run, from its own GPU timestamps: the operator's own work, or work beyond it. */
export const PeerKernelSchema = z.object({ program: z.string(), role: z.enum(['operator', 'beyond']), stats: StatisticsSchema });

/** A peer's kernels per run: the operator's own (attention, MatMul), the rest (null: none), each program's. */
export const PeerKernelsSchema = z.object({ operator: PeerSeriesSchema, beyond: PeerSeriesSchema.nullable(), programs: z.array(PeerKernelSchema) });

/**
 * Another runtime's take on a case (`run --peer`): a one-node model at the same shape and dtype on the same
 * adapter, its output checked against the case's float64 reference with the case's tolerances, then timed in
 * the same visits. A peer that fails numerics carries no timing of correct work; its kernels' own timestamps are
 * kept apart (failingKernels: data about the kernels that ran, never a ratio or a result).
 */
/** Present on an entry for one stage of the case (its phase name: MLA's absorb-q, up-project, ...); absent for the whole case. */
const peerStage = { stage: z.string().optional() };

export const PeerResultSchema = z.discriminatedUnion('status', [
  z.object({
    peer: z.string(),
    version: z.string(),
    ...peerStage,
    /** The operator run, domain-qualified (com.microsoft.MultiHeadAttention). */
    operator: z.string(),
    status: z.literal('ok'),
    /** How the peer's adapter was tied to the case's (e.g. lavapipe only, through VK_ICD_FILENAMES). */
    adapter: z.string(),
    numerics: NumericsSchema,
    /** Per run, from the peer's own per-kernel GPU timestamps: the operator's kernels (attention, MatMul), the rest (null: none). */
    kernels: PeerKernelsSchema,
    /** Host wall time per run(), and per run() of an identity model with the same output (the overhead). */
    wall: z.object({ run: PeerSeriesSchema, overhead: PeerSeriesSchema, netMedianMs: finite }),
    visits: z.number().int().positive(),
    /** Each visit's medians, in visit order, beside the case's own timing.visitMediansMs. */
    visitMedians: z.array(z.object({ kernelMs: finite, wallMs: finite })),
  }),
  z.object({
    peer: z.string(),
    version: z.string(),
    ...peerStage,
    operator: z.string(),
    status: z.literal('numerics-failed'),
    adapter: z.string(),
    numerics: NumericsSchema,
    /** The kernels of the failing output, timed in the same visits anyway (absent: not timed), with each visit's operator median. */
    failingKernels: PeerKernelsSchema.extend({ visitMediansMs: z.array(finite) }).optional(),
  }),
  /** The peer has no counterpart of this case (absorbed MLA, MoE dispatch, ...): why. */
  z.object({ peer: z.string(), version: z.string(), ...peerStage, status: z.literal('unsupported'), reason: z.string() }),
  z.object({ peer: z.string(), version: z.string(), ...peerStage, operator: z.string().nullable(), status: z.literal('error'), message: z.string() }),
]);
export type PeerResult = z.infer<typeof PeerResultSchema>;
export type PeerOk = Extract<PeerResult, { status: 'ok' }>;
export type PeerNumericsFailed = Extract<PeerResult, { status: 'numerics-failed' }>;
export type PeerFailingKernels = NonNullable<PeerNumericsFailed['failingKernels']>;

const AxisValue = z.union([z.number(), z.string()]);

/**
 * The plans a case ran with (its tunable slots, src/kernels/tunable.ts): 'tuned' where a tuning file's entry
 * changed them from the strategies' defaults, else 'default'. `plans`: each slot's plan in one line (`attend:
 * rows-subgroup rpi=2 wg=8 chunk=512 output=partials`); null in files from before version 5, whose cases ran
 * their defaults unrecorded.
 */
export const KernelConfigSchema = z.object({
  source: z.enum(['default', 'tuned']),
  plans: z.record(z.string(), z.string()).nullable(),
});
export type KernelConfig = z.infer<typeof KernelConfigSchema>;

const CaseBase = {
  key: z.string(),
  suite: z.string(),
  family: z.string(),
  params: z.record(z.string(), AxisValue),
};

export const MeasurementSchema = z.discriminatedUnion('status', [
  z.object({
    ...CaseBase,
    status: z.literal('ok'),
    dtype: z.enum(['f32', 'f16']),
    work: WorkSchema,
    timing: TimingSchema,
    rates: RatesSchema,
    memory: MemorySchema,
    numerics: NumericsSchema,
    transfers: TransfersSchema,
    compileMs: z.record(z.string(), finite),
    /** Multi-stage cases: each stage timed on its own, in dispatch order; timing above is end to end. */
    stages: z.array(StageTimingSchema).optional(),
    /**
     * Where the stages were timed, present exactly when `stages` is (see isStaged): 'in-pipeline' (each
     * repeat runs every stage, the timed one in its own pass) or 'alone' (the stage's dispatches repeated by
     * themselves).
     */
    stagePlacement: z.enum(['in-pipeline', 'alone']).optional(),
    /** Present where the stages were timed in the pipeline: the pass probe of the same rounds. */
    stagePassProbe: PassProbeSchema.optional(),
    /** Absent where the case has a host tail, and in files from before paired stage timing. */
    stagesEndToEnd: PairedEndToEndSchema.optional(),
    ceiling: z.enum(['copy', 'read', 'fma-f32', 'fma-f16', 'dispatch']).optional(),
    facts: z.record(z.string(), AxisValue).optional(),
    /** Absent where the case has no tunable slots (calibration). */
    kernelConfig: KernelConfigSchema.optional(),
    /** `run --peer`: each peer's result on this case (absent: the run had no peers). */
    peers: z.array(PeerResultSchema).optional(),
  }),
  /** Run once and checked, memory recorded, not timed: its suite answers with an allocation, not a time. */
  z.object({
    ...CaseBase,
    status: z.literal('checked'),
    dtype: z.enum(['f32', 'f16']),
    work: WorkSchema,
    memory: MemorySchema,
    numerics: NumericsSchema,
    transfers: TransfersSchema,
    compileMs: z.record(z.string(), finite),
    facts: z.record(z.string(), AxisValue).optional(),
    kernelConfig: KernelConfigSchema.optional(),
  }),
  z.object({ ...CaseBase, status: z.literal('skipped'), reason: z.string() }),
  /** Planned, but the run's time budget ran out before it: not measured, and no verdict on it either way. */
  z.object({ ...CaseBase, status: z.literal('left-out'), reason: z.literal('budget') }),
  z.object({
    ...CaseBase,
    status: z.literal('numerics-failed'),
    dtype: z.enum(['f32', 'f16']),
    work: WorkSchema,
    memory: MemorySchema,
    numerics: NumericsSchema,
    kernelConfig: KernelConfigSchema.optional(),
  }),
  z.object({ ...CaseBase, status: z.literal('error'), message: z.string() }),
]);
export type Measurement = z.infer<typeof MeasurementSchema>;
export type MeasurementStatus = Measurement['status'];
export type OkMeasurement = Extract<Measurement, { status: 'ok' }>;
export type CheckedMeasurement = Extract<Measurement, { status: 'checked' }>;
/** Cases that ran and passed their numerics check, timed or not. */
export type PassedMeasurement = OkMeasurement | CheckedMeasurement;
/** A case timed stage by stage: its stages and where they were timed. */
export type StagedMeasurement = OkMeasurement & Required<Pick<OkMeasurement, 'stages' | 'stagePlacement'>>;

export function isStaged(measurement: OkMeasurement): measurement is StagedMeasurement {
  return measurement.stages !== undefined && measurement.stages.length > 0 && measurement.stagePlacement !== undefined;
}

export const CeilingsSchema = z.object({
  copyGBs: z.number().nullable(),
  readGBs: z.number().nullable(),
  fmaF32Gflops: z.number().nullable(),
  fmaF16Gflops: z.number().nullable(),
  dispatchUs: z.number().nullable(),
});

export const AdapterSchema = z.object({
  vendor: z.string(),
  architecture: z.string(),
  device: z.string(),
  description: z.string(),
  backend: z.string(),
  isFallbackAdapter: z.boolean(),
  subgroupMinSize: z.number().optional(),
  subgroupMaxSize: z.number().optional(),
  features: z.array(z.string()),
  limits: z.record(z.string(), z.number()),
});

export const EnvironmentSchema = z.object({
  adapter: AdapterSchema,
  device: z.object({
    features: z.array(z.string()),
    limits: z.record(z.string(), z.number()),
  }),
  toggles: z.object({ enabled: z.array(z.string()), disabled: z.array(z.string()) }),
  robustness: z.boolean(),
  /** Nice value of the host thread while the kernels ran (lowered on CPU adapters), null when left alone. */
  hostThreadNice: z.number().int().nullable(),
  /**
   * How the host thread waited for the adapter: spinning through Dawn's event loop, or asleep between its ticks (CPU
   * adapters from version 8: the spin had taken up to half of a 2-core lavapipe's speed).
   */
  hostWait: z.enum(['spin', 'sleep']),
  node: z.string(),
  dawn: z.string(),
  os: z.object({ platform: z.string(), release: z.string(), arch: z.string() }),
  cpu: z.object({ model: z.string(), cores: z.number().int() }),
  memoryBytes: z.number(),
});
export type Environment = z.infer<typeof EnvironmentSchema>;

export const RunConfigSchema = z.object({
  suites: z.array(z.string()),
  profile: z.enum(['quick', 'standard', 'full']),
  requestedProfile: z.enum(['auto', 'quick', 'standard', 'full']),
  overrides: z.array(z.string()),
  filter: z.string().nullable(),
  dtypes: z.array(z.enum(['f32', 'f16'])).nullable(),
  mode: z.enum(['batch', 'cold']),
  rule: z.object({
    minSamples: z.number().int().positive(),
    maxSamples: z.number().int().positive(),
    maxRelNoise: z.number().positive(),
    minTimeMs: z.number().nonnegative(),
    timeoutMs: z.number().positive(),
  }),
  targetSampleMs: z.number().positive(),
  warmupSamples: z.number().int().nonnegative(),
  seed: z.number().int(),
  /** Visits per case, spread over the run. */
  visits: z.number().int().positive(),
  /** Wall time the run had (`--budget`), or null: every case at its full stopping rule. */
  budget: z.object({ ms: z.number().positive() }).nullable(),
  /** A budgeted run's order: each case key with why it came when it did. */
  plan: z.array(z.object({ key: z.string(), priority: z.enum(['calibration', 'headline', 'breadth']) })).nullable(),
  /** Peer runtimes run beside every case (`--peer`), e.g. ['onnxruntime']. */
  peers: z.array(z.string()),
  /**
   * `--tuning`: 'auto' (the adapter's file in the tuning cache, where there is one), 'none', or a file; `file` the
   * tuning file the run used (null: none), `entries` how many of its entries matched this adapter. `tuned`: the
   * run tuned its cases first (`--tune`). Null in files from before version 5 (no tuning: every case its defaults).
   */
  tuning: z
    .object({
      requested: z.string(),
      file: z.string().nullable(),
      entries: z.number().int().nonnegative(),
      tuned: z.boolean(),
    })
    .nullable(),
  gpu: z.object({
    adapter: z.string().nullable(),
    backend: z.enum(BACKENDS).nullable(),
    powerPreference: z.enum(POWER_PREFERENCES).nullable(),
    robustness: z.boolean(),
  }),
});
export type RunConfig = z.infer<typeof RunConfigSchema>;

export const ResultHeaderSchema = z.object({
  schema: z.literal(RESULTS_SCHEMA_ID),
  schemaVersion: z.literal(RESULTS_SCHEMA_VERSION),
  tool: z.object({ name: z.string(), version: z.string(), gitSha: z.string().nullable() }),
  createdAt: z.string(),
  environment: EnvironmentSchema,
  config: RunConfigSchema,
});
export type ResultHeader = z.infer<typeof ResultHeaderSchema>;

export const ResultFileSchema = ResultHeaderSchema.extend({
  finishedAt: z.string(),
  ceilings: CeilingsSchema,
  cases: z.array(MeasurementSchema),
});
export type ResultFile = z.infer<typeof ResultFileSchema>;
