import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { UserError } from '../errors.js';
import {
  assertSameDevice,
  compareResults,
  defaultNoisePct,
  GPU_NOISE_PCT,
  SOFTWARE_NOISE_PCT,
  crossHardwareTable,
  regressions,
  type CandidateComparison,
  type CaseComparison,
  type CrossHardwareTable,
} from '../report/compare.js';
import { renderComparison, renderCrossHardware } from '../report/compare-table.js';
import { loadResults } from '../report/data.js';
import { markdownComparison, markdownCrossHardware, markdownTable } from '../report/markdown.js';
import { peerComparisonTable, peerRatioPairs, type PeerRatioPair } from '../report/peers.js';
import { renderTable } from '../report/table.js';

export interface CompareResult {
  noisePct: number;
  failOnRegressionPct: number | null;
  comparisons: CandidateComparison[];
  crossHardware?: CrossHardwareTable;
  regressions: CaseComparison[];
  /** Per candidate: each case's peer / mla-bench ratio on both sides (runs with --peer). */
  peerRatios?: PeerRatioPair[][];
}

function percent(text: string, flag: string): number {
  const value = Number(text.replace(/%$/, ''));
  if (!Number.isFinite(value) || value < 0) throw new UserError(`--${flag} must be a percentage >= 0, got ${text}`);
  return value;
}

export default class Compare extends BaseCommand {
  static override summary = 'Compare candidate results files with a base, case by case, with statistics.';
  static override description = `Cases are matched by key. Per case: ratio of medians (candidate / base; above 1 is slower) with a bootstrap 95% CI that resamples both sides, a two-sided Mann-Whitney U test (alpha 0.05) and a noise band:
  same          the CI of the ratio lies inside the band
  slower/faster the U test is significant and the ratio lies outside the band
  inconclusive  anything else
Every case's ratio is first divided by the machine's own shift between the runs (the median over the calibration kernels of their time ratio, pooled over every visit), so a machine that ran slower or faster (a shared runner, another clock or memory speed) is not read as the build; --no-machine-correction judges raw ratios. A case's band widens to the spread of either run's own visit medians: a run that does not reproduce its own figure cannot call a smaller difference the build's. Per suite: the geometric mean of the ratios. Both runs' calibrated ceilings are set side by side as time ratios, with a warning when one moved past the noise band. Files from different devices are refused unless --cross-hardware, which prints the median of every case per device instead.`;
  static override examples = [
    '<%= config.bin %> compare results/baselines/rtx4070.json results/new.json',
    '<%= config.bin %> compare base.json candidate.json --noise 3 --fail-on-regression 5',
    '<%= config.bin %> compare rtx4070.json m2.json --cross-hardware',
  ];
  static override strict = false;
  static override args = {
    base: Args.string({ description: 'base results file (or the journal of an unfinished run)', required: true }),
    candidates: Args.string({ description: 'one or more candidate results files', required: true }),
  };
  static override flags = {
    noise: Flags.string({
      description: `noise band in percent: ratios within ±PCT count as the same; auto = ${GPU_NOISE_PCT} on a GPU, ${SOFTWARE_NOISE_PCT} when the base ran on a software adapter (run-to-run drift on a shared CPU)`,
      default: 'auto',
    }),
    'fail-on-regression': Flags.string({ description: 'exit 1 when a case is significantly slower by more than PCT percent' }),
    'machine-correction': Flags.boolean({
      description:
        "divide every case's ratio by the machine's own shift between the runs (the median of the calibration kernels' time ratios), so a machine that itself ran slower or faster is not the build's verdict (--no-machine-correction: judge raw ratios)",
      default: true,
      allowNo: true,
    }),
    'cross-hardware': Flags.boolean({ description: 'allow files from different devices: one column per device with each case median' }),
    format: Flags.string({
      description: 'human output: terminal tables or Markdown (for CI job summaries)',
      options: ['table', 'md'],
      default: 'table',
    }),
  };

  async run(): Promise<CompareResult> {
    const { argv, flags } = await this.parse(Compare);
    const failPct = flags['fail-on-regression'] === undefined ? null : percent(flags['fail-on-regression'], 'fail-on-regression');
    const files = loadResults(argv as string[]);
    const [base, ...candidates] = files;
    if (!base || candidates.length === 0) throw new UserError('compare needs a base and at least one candidate results file');
    const noisePct = flags.noise === 'auto' ? defaultNoisePct(base) : percent(flags.noise, 'noise');
    const md = flags.format === 'md';
    const print = (text: string): void => {
      if (!this.jsonEnabled()) this.log(text);
    };
    if (flags['cross-hardware']) {
      const crossHardware = crossHardwareTable(files);
      print(md ? markdownCrossHardware(crossHardware) : renderCrossHardware(crossHardware));
      return { noisePct, failOnRegressionPct: failPct, comparisons: [], crossHardware, regressions: [] };
    }
    assertSameDevice(files);
    const comparisons = candidates.map((candidate) =>
      compareResults(base, candidate, { noise: noisePct / 100, machineCorrection: flags['machine-correction'] }),
    );
    for (const c of comparisons) if (c.cases.length === 0) throw new UserError(`${c.candidate} shares no successful case with ${c.base}`);
    if (md) print(markdownComparison(comparisons, noisePct));
    else for (const c of comparisons) print(renderComparison(c, noisePct));
    const peerRatios = candidates.map((candidate) => peerRatioPairs(base, candidate));
    for (const table of peerRatios.map(peerComparisonTable)) if (table) print(md ? markdownTable(table) : renderTable(table));
    const regressed = failPct === null ? [] : comparisons.flatMap((c) => regressions(c, failPct));
    const result: CompareResult = {
      noisePct,
      failOnRegressionPct: failPct,
      comparisons,
      regressions: regressed,
      ...(peerRatios.some((p) => p.length) && { peerRatios }),
    };
    if (regressed.length) {
      const worst = regressed.reduce((a, b) => (b.ratio > a.ratio ? b : a));
      const drifted = comparisons.some((c) => c.ceilings.some((x) => x.moved));
      if (this.jsonEnabled()) this.logJson(result);
      this.logToStderr(
        `Error: ${regressed.length} case(s) significantly slower by more than ${failPct}% (worst: ${worst.key} ${((worst.ratio - 1) * 100).toFixed(1)}% slower)${drifted ? '; the calibrated ceilings moved too (see the warning above): rerun both on a quiet machine before blaming the build' : ''}`,
      );
      this.exit(1);
    }
    return result;
  }
}
