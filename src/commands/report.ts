import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { loadResults } from '../report/data.js';
import { REPORT_FORMATS, writeReport, type ReportFormat, type ReportResult } from '../report/report.js';

export default class Report extends BaseCommand {
  static override summary = 'Tables, Markdown, CSV, charts (PNG and one offline HTML page) and CI exports from results files.';
  static override description = `Reads results files only (no GPU), or the journal of a run that was cut short or is still going (its finished cases). Files from the same device are merged; several devices add cross-hardware charts.
Every report opens with the findings computed from the results (KV cache per token against MHA/GQA/MQA, absorbed MLA decode against naive MLA and MHA and the stage that decides it, the crossover q_len, MoE dispatch against the host loop, each headline kernel's % of its roof; what the run did not measure says so), then the tables: a column per axis that varies in a suite, the constant ones in its title.
table, md, csv and bmf go to stdout unless --out is given; html, png and gab always write files (to --out, default results/report/):
  md    report.md: findings, the MLA summaries, ceilings and one table per suite (for CI job summaries)
  csv   report.csv: one row per case, flat columns (cases a budget left out: status left-out)
  html  report.html: self-contained, works offline: findings, tables, then interactive charts
  png   charts/*.png: latency vs context, decode tokens/s vs batch, KV bytes per token, MLA crossover, roofline, MoE stages, cross-hardware
  gab   gab-latency.json (customSmallerIsBetter, ms) and gab-throughput.json (customBiggerIsBetter, GB/s and GFLOP/s) for github-action-benchmark
  bmf   bmf.json: Bencher Metric Format (latency in ms and throughput in GB/s, with CI95 bounds)`;
  static override examples = [
    '<%= config.bin %> report results/2026-01-01-rtx4070.json',
    '<%= config.bin %> report results/*.json --format md --format png --out report/',
    '<%= config.bin %> report results/a.json --format gab --format bmf --out bench-out/',
  ];
  static override strict = false;
  static override args = {
    results: Args.string({
      description: 'results files (.json written by `mla-bench run`), or the journal (.journal.jsonl) of a run that has not finished',
      required: true,
    }),
  };
  static override flags = {
    format: Flags.string({
      char: 'f',
      description: 'output format (repeatable)',
      options: [...REPORT_FORMATS],
      multiple: true,
      default: ['table'],
    }),
    out: Flags.string({ char: 'o', description: 'folder for the written files' }),
  };

  async run(): Promise<ReportResult> {
    const { argv, flags } = await this.parse(Report);
    const files = loadResults(argv as string[]);
    const json = this.jsonEnabled();
    if (!json) {
      for (const file of files) {
        if (file.unfinished)
          this.logToStderr(
            `${file.path}: the journal of an unfinished run: its ${file.unfinished.finishedCases} finished case(s) (finish it with \`mla-bench run --resume --journal ${file.path}\`)`,
          );
      }
    }
    const result = writeReport(files, {
      formats: flags.format as ReportFormat[],
      ...(flags.out !== undefined && { outDir: flags.out }),
      print: (text) => {
        if (!json) this.log(text);
      },
    });
    if (!json) {
      for (const output of result.outputs) for (const path of output.paths) this.logToStderr(`wrote ${path}`);
    }
    return result;
  }
}
