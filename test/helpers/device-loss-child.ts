// Child process of test/gpu/device-loss.test.ts: loses a device on purpose, runs a case on it and prints the
// outcome as one JSON line. Dawn sometimes crashes while tearing down an instance whose device was destroyed
// (after this line is written); the test judges the line, not the exit.
import { openGpu } from '../../src/gpu/device.js';
import { TrackedAllocator } from '../../src/gpu/memory.js';
import { GpuTimer } from '../../src/gpu/timing.js';
import { calibrationFamily } from '../../src/kernels/calibration.js';
import { NO_CEILINGS } from '../../src/measure/rates.js';
import { DEFAULT_STOPPING_RULE } from '../../src/measure/stopping.js';
import { runCase } from '../../src/run/run-case.js';

const context = await openGpu();
context.device.destroy(); // not context.close(): this is a loss the runner did not ask for
await context.device.lost;
const allocator = new TrackedAllocator(context.device);
const timer = GpuTimer.create(context, allocator);
const measurement = await runCase(
  { context, allocator, timer },
  calibrationFamily,
  { suite: 'calibration', key: 'calibration/kernel=copy,mib=1', params: { kernel: 'copy', mib: 1 } },
  { mode: 'batch', rule: DEFAULT_STOPPING_RULE, targetSampleMs: 1, warmupSamples: 0, seed: 1 },
  NO_CEILINGS,
);
process.stdout.write(
  `${JSON.stringify({ lostReason: context.lostReason ?? null, status: measurement.status, message: measurement.status === 'error' ? measurement.message : null })}\n`,
);
timer.dispose();
allocator.destroyAll();
context.close();
