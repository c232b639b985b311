import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import { paramsProblem } from '../kernels/params.js';
import { kernelFamily } from '../kernels/registry.js';
import { expandSuite, type ExpandOptions, type PlannedCase } from './expand.js';
import { hasOwnKey, loadSuiteFile, type SuiteFile } from './schema.js';

/** suites/ at the package root, two levels above src/suites and dist/suites. */
export const SUITES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'suites');

/** Suites run first in every run: the ceilings every other case is reported against. */
export const CALIBRATION_SUITE = 'calibration';

function validated(suite: SuiteFile, file: string): SuiteFile {
  const family = kernelFamily(suite.family);
  if (!family) throw new UserError(`${file}: family: unknown kernel family "${suite.family}"`);
  const missing = family.requiredAxes.filter((axis) => !hasOwnKey(suite.axes, axis));
  if (missing.length) throw new UserError(`${file}: axes: family ${suite.family} needs axes ${missing.join(', ')}`);
  return suite;
}

export function builtInSuiteNames(dir = SUITES_DIR): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .map((name) => basename(name, '.json'))
    .sort((a, b) => (a === CALIBRATION_SUITE ? -1 : b === CALIBRATION_SUITE ? 1 : a.localeCompare(b)));
}

/** A suite by built-in name or by path to a .json file. */
export function loadSuite(nameOrPath: string, dir = SUITES_DIR): SuiteFile {
  const isPath = nameOrPath.endsWith('.json') || nameOrPath.includes('/');
  const file = isPath ? nameOrPath : join(dir, `${nameOrPath}.json`);
  if (!existsSync(file)) {
    if (isPath) throw new UserError(`suite file ${nameOrPath} does not exist`);
    throw new UserError(`unknown suite "${nameOrPath}"; built-in suites: ${builtInSuiteNames(dir).join(', ')}`);
  }
  return validated(loadSuiteFile(file), isPath ? nameOrPath : `suites/${nameOrPath}.json`);
}

export function loadBuiltInSuites(dir = SUITES_DIR): SuiteFile[] {
  return builtInSuiteNames(dir).map((name) => loadSuite(name, dir));
}

/**
 * A suite's cases with every axis value checked against its family before anything runs: a value the family
 * cannot honour is an error naming the suite, the axis and the value (an `-a` typo, a negative context).
 */
export function planSuite(suite: SuiteFile, options: ExpandOptions): PlannedCase[] {
  const cases = expandSuite(suite, options);
  for (const planned of cases) {
    const problem = paramsProblem(suite.family, planned.params);
    if (problem) throw new UserError(`suite ${suite.name}: ${problem}`);
  }
  return cases;
}
