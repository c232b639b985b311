import { arithmeticOf, ceilingValue, computeRates, NO_CEILINGS, withCeiling, type Ceilings } from '../measure/rates.js';
import type { Measurement, ResultFile, ResultHeader } from './schema.js';
import { readJournal } from './store.js';

/** The ceilings of a run: every calibration case that measured one (the last of each kind wins). */
export function ceilingsOf(cases: Measurement[]): Ceilings {
  let ceilings = NO_CEILINGS;
  for (const measurement of cases) {
    if (measurement.status === 'ok' && measurement.ceiling) {
      ceilings = withCeiling(ceilings, measurement.ceiling, ceilingValue(measurement.ceiling, measurement.work, measurement.timing.gpu.median));
    }
  }
  return ceilings;
}

/** Cases measured before calibration finished saw partial ceilings: the results file uses the final ones. */
export function withFinalRates(cases: Measurement[], ceilings: Ceilings): Measurement[] {
  return cases.map((m) =>
    m.status === 'ok'
      ? {
          ...m,
          rates: computeRates(m.work, m.timing.gpu.median, arithmeticOf(m.ceiling), ceilings, m.timing.dispatches),
          ...(m.stages && { stages: m.stages.map((s) => ({ ...s, rates: computeRates(s.work, s.gpu.median, arithmeticOf(m.ceiling), ceilings, s.dispatches) })) }),
        }
      : m,
  );
}

/** A results file from a run's header and its cases, every rate against the run's final ceilings. */
export function assembleResults(header: ResultHeader, cases: Measurement[], finishedAt: string): ResultFile {
  const ceilings = ceilingsOf(cases);
  return { ...header, finishedAt, ceilings, cases: withFinalRates(cases, ceilings) };
}

/**
 * The finished cases of an interrupted (or still running) run, read from its journal as a results file: what
 * `report` and `compare` read before `run --resume` completes it. finishedAt is the journal's last write.
 */
export function resultsOfJournal(path: string, lastWrite: Date): { results: ResultFile; finishedCases: number } {
  const { header, cases } = readJournal(path);
  return { results: assembleResults(header, cases, lastWrite.toISOString()), finishedCases: cases.length };
}
