import type { ResultFile } from '../results/schema.js';
import { compactDuration } from '../util/duration.js';

/** How a results file's run was set up, as far as reading its tables needs: profile, budget, what was left out. */
export interface RunSummary {
  file: string;
  profile: string;
  /** The run's wall-time budget; null where it had none (and in files from before budgets). */
  budgetMs: number | null;
  cases: number;
  /** Cases the budget had no room for. */
  leftOut: number;
}

export function runSummary(file: string, results: ResultFile): RunSummary {
  return {
    file,
    profile: results.config.profile,
    budgetMs: results.config.budget?.ms ?? null,
    cases: results.cases.length,
    leftOut: results.cases.filter((c) => c.status === 'left-out').length,
  };
}

/** `profile quick, budget 10m: 15 of 64 cases left out`, or `profile quick, no time budget`. */
export function describeRun(run: RunSummary): string {
  const budget = run.budgetMs === null ? 'no time budget' : `budget ${compactDuration(run.budgetMs)}`;
  const leftOut = run.leftOut ? `: ${run.leftOut} of ${run.cases} cases left out` : run.budgetMs === null ? '' : ': every case ran';
  return `profile ${run.profile}, ${budget}${leftOut}`;
}
