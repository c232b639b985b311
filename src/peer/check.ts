import { takeRows, type OutputCheck } from '../kernels/spec.js';
import { allclose, jsonNumber } from '../reference/allclose.js';
import type { CheckResult } from '../results/schema.js';

/**
 * A peer's output against the case's own float64 reference and tolerance, recorded as the case's checks are
 * (run-case.ts prepareAndCheck): errors that JSON cannot hold as text, a sampled check's worst index as an
 * index into the whole output.
 */
export function checkPeerOutput(check: OutputCheck, actual: ArrayLike<number>): CheckResult {
  const sample = check.sampledRows;
  const exact = allclose(takeRows(actual, sample), check.expected(), check.tolerance);
  const report = {
    ...exact,
    maxAbsError: jsonNumber(exact.maxAbsError),
    maxRelError: jsonNumber(exact.maxRelError),
    normRelError: jsonNumber(exact.normRelError),
  };
  if (!sample) return { buffer: check.buffer, ...report };
  const i = report.worstIndex;
  const worstIndex = i < 0 ? i : (sample.rows[Math.floor(i / sample.rowLength)] as number) * sample.rowLength + (i % sample.rowLength);
  return { buffer: check.buffer, ...report, worstIndex, sampledRows: { checked: sample.rows.length, total: sample.total } };
}
