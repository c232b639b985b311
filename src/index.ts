/**
 * mla-bench's programmatic API: run suites or a single kernel case from code.
 *
 *   import { runBenchmarks, DEFAULT_RUN_OPTIONS } from 'mla-bench';
 *   const { results } = await runBenchmarks({ ...DEFAULT_RUN_OPTIONS, suites: ['calibration'], gpu: {} });
 */
export { runBenchmarks, resumeBenchmarks, DEFAULT_RUN_OPTIONS, type RunOptions, type RunHooks, type RunOutcome } from './run/runner.js';
export { runCase, type GpuSession, type CaseRunOptions } from './run/run-case.js';
export { openGpu, listAdapters, type GpuContext, type GpuOptions, type AdapterDescription } from './gpu/device.js';
export { TrackedAllocator, type MemoryRole, type MemoryReport } from './gpu/memory.js';
export { GpuTimer, type TimingMode } from './gpu/timing.js';
export { PreparedCase } from './gpu/executor.js';
export { kernelFamily, familyNames } from './kernels/registry.js';
export type { KernelFamily, BuildContext, BuildResult } from './kernels/family.js';
export type { KernelCase, BufferDecl, StageDecl, Work, Dtype, OutputCheck, Tolerance } from './kernels/spec.js';
export { loadSuite, builtInSuiteNames } from './suites/registry.js';
export { expandSuite, parseAxisOverride, type PlannedCase } from './suites/expand.js';
export { summarize, type SampleStatistics } from './measure/statistics.js';
export { DEFAULT_STOPPING_RULE, type StoppingRule } from './measure/stopping.js';
export { computeRates, type Ceilings, type Rates } from './measure/rates.js';
export { allclose, type NumericsReport } from './reference/allclose.js';
export { readResultFile } from './results/store.js';
export { ResultFileSchema, MeasurementSchema, type ResultFile, type Measurement } from './results/schema.js';
export { renderResults } from './report/table.js';
