import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { AxisValue } from '../core/numbers.js';
import type { PlanOverrides } from '../kernels/tunable.js';
import { describeIo, ensureDir, writeFileAtomic } from '../results/store.js';

/**
 * The tuning file: one per adapter and mla-bench version, human-readable JSON, in the tuning cache
 * (tuningDir: $MLA_BENCH_TUNING_DIR, else $XDG_CACHE_HOME/mla-bench/tuning, ~/.cache/mla-bench/tuning, or
 * %LOCALAPPDATA%\mla-bench\tuning on Windows), named <device>-<hash of the key>.json. Its key says which adapter it
 * was tuned on: vendor, architecture, device, driver (the adapter's description: Dawn puts the driver there),
 * backend and the tool's version; a file whose key is not the current adapter's is foreign and not used. Each
 * entry is one case (family and axis values) with the plans tuning chose for its slots, the defaults, the
 * speed-up with its CI and the configurations that failed. See docs/tuning.md.
 */

export const TUNING_FORMAT = 'mla-bench/tuning';
export const TUNING_VERSION = 1;

const AxisValueSchema = z.union([z.number(), z.string()]);

export const TuningKeySchema = z.object({
  vendor: z.string(),
  architecture: z.string(),
  device: z.string(),
  driver: z.string(),
  backend: z.string(),
  tool: z.string(),
});
export type TuningKey = z.infer<typeof TuningKeySchema>;

/** A plan's fields: its kind and other names, sizes (positive integers), or a nested object of sizes (tiles). */
const Size = z.number().int().positive();
const PlanSchema = z.record(z.string(), z.union([z.string().max(64), Size, z.record(z.string(), Size)]));

const SpeedupSchema = z.object({ speedup: z.number(), lo: z.number(), hi: z.number(), rounds: z.number().int() });

export const TuningEntrySchema = z.object({
  family: z.string(),
  params: z.record(z.string(), AxisValueSchema),
  /** The case key it was tuned as (suite/axes), for people. */
  case: z.string(),
  /** 'tuned': `plans` beat the defaults (paired CI above 1); 'default-kept': nothing did. */
  status: z.enum(['tuned', 'default-kept']),
  /** Each slot's plan, as the kernels take it: what `run` builds the case with (where each is a legal plan). */
  plans: z.record(z.string(), z.object({ family: z.enum(['attention', 'gemm', 'moe']), plan: PlanSchema })),
  /** Each slot's default and tuned plan in one line. */
  defaults: z.record(z.string(), z.string()),
  tuned: z.record(z.string(), z.string()),
  /** Tuned (or the best challenger, where the defaults were kept) against the defaults, paired; null: none ran. */
  speedup: SpeedupSchema.nullable(),
  /** Configurations built, checked against float64 and timed or rejected. */
  evaluated: z.number().int().nonnegative(),
  /** Configurations that failed numerics or could not run: never chosen. */
  failing: z.array(z.object({ slot: z.string(), plan: z.string(), reason: z.string() })),
  tunedAt: z.string(),
});
export type TuningEntry = z.infer<typeof TuningEntrySchema>;

export const TuningFileSchema = z.object({
  format: z.literal(TUNING_FORMAT),
  version: z.literal(TUNING_VERSION),
  key: TuningKeySchema,
  gitSha: z.string().nullable(),
  updatedAt: z.string(),
  entries: z.array(TuningEntrySchema),
});
export type TuningFile = z.infer<typeof TuningFileSchema>;

/** The adapter facts a tuning file is keyed by. */
export interface AdapterFacts {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
}

export function tuningKey(adapter: AdapterFacts, toolVersion: string): TuningKey {
  const { vendor, architecture, device, description, backend } = adapter;
  return { vendor, architecture, device, driver: description, backend, tool: toolVersion };
}

/** The tuning cache folder (see the module comment). */
export function tuningDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['MLA_BENCH_TUNING_DIR']) return env['MLA_BENCH_TUNING_DIR'];
  if (process.platform === 'win32' && env['LOCALAPPDATA']) return join(env['LOCALAPPDATA'], 'mla-bench', 'tuning');
  return join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'mla-bench', 'tuning');
}

/** <device>-<first 10 hex digits of sha256(key)>.json in `dir`. */
export function tuningPath(dir: string, key: TuningKey): string {
  const slug = (key.device || key.architecture || key.vendor || 'adapter')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  const hash = createHash('sha256')
    .update(JSON.stringify(TuningKeySchema.parse(key)))
    .digest('hex')
    .slice(0, 10);
  return join(dir, `${slug || 'adapter'}-${hash}.json`);
}

/** `attention batch=1,context=1024,...`: a family and its axis values, sorted by axis. */
export function entryKey(family: string, params: Readonly<Record<string, AxisValue>>): string {
  const axes = Object.keys(params).sort();
  return `${family} ${axes.map((axis) => `${axis}=${params[axis]}`).join(',')}`;
}

/** A tuning file's entries for lookup by case. */
export class TuningTable {
  private readonly byKey: Map<string, TuningEntry>;

  constructor(
    readonly path: string | null,
    readonly file: TuningFile,
  ) {
    this.byKey = new Map(file.entries.map((entry) => [entryKey(entry.family, entry.params), entry]));
  }

  get size(): number {
    return this.byKey.size;
  }

  entry(family: string, params: Readonly<Record<string, AxisValue>>): TuningEntry | undefined {
    return this.byKey.get(entryKey(family, params));
  }

  /** The plans to build a case with: a tuned entry's (unchecked here: run admits them once built, tune/admit.ts). */
  plans(family: string, params: Readonly<Record<string, AxisValue>>): PlanOverrides | undefined {
    const entry = this.entry(family, params);
    return entry?.status === 'tuned' ? (entry.plans as unknown as PlanOverrides) : undefined;
  }
}

/** The key's adapter in a few words: `llvmpipe (mesa, vulkan) driver "..." mla-bench 0.1.0`. */
export function describeKey(key: TuningKey): string {
  return `${key.device || key.architecture} (${key.vendor}, ${key.backend}), driver "${key.driver}", mla-bench ${key.tool}`;
}

function sameKey(a: TuningKey, b: TuningKey): boolean {
  return JSON.stringify(TuningKeySchema.parse(a)) === JSON.stringify(TuningKeySchema.parse(b));
}

/** A tuning file read for `key`: its table, or the one-line reason it is not used (unreadable, corrupt, foreign). */
export function readTuningFile(path: string, key: TuningKey): { table: TuningTable } | { warning: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return { warning: `tuning file ${path} cannot be read (${describeIo(error)}): running the default plans` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { warning: `tuning file ${path} is not JSON (corrupt?): running the default plans` };
  }
  const parsed = TuningFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return {
      warning: `tuning file ${path} is not a ${TUNING_FORMAT} v${TUNING_VERSION} file (${issue.path.join('.') || 'top level'}: ${issue.message}): running the default plans`,
    };
  }
  if (!sameKey(parsed.data.key, key))
    return { warning: `tuning file ${path} was tuned on ${describeKey(parsed.data.key)}, not this adapter: running the default plans` };
  return { table: new TuningTable(path, parsed.data) };
}

/** An empty file for `key`. */
export function emptyTuningFile(key: TuningKey, gitSha: string | null, now: string): TuningFile {
  return { format: TUNING_FORMAT, version: TUNING_VERSION, key, gitSha, updatedAt: now, entries: [] };
}

/** `base` with `fresh` entries added, each replacing an entry of the same case; sorted by case for stable diffs. */
export function mergeEntries(base: TuningFile, fresh: readonly TuningEntry[], gitSha: string | null, now: string): TuningFile {
  const entries = new Map(base.entries.map((entry) => [entryKey(entry.family, entry.params), entry]));
  for (const entry of fresh) entries.set(entryKey(entry.family, entry.params), entry);
  const sorted = [...entries.values()].sort((a, b) => a.case.localeCompare(b.case));
  return { ...base, gitSha, updatedAt: now, entries: sorted };
}

/** Writes the file atomically, pretty-printed (people read it), creating its folder. */
export function writeTuningFile(path: string, file: TuningFile): void {
  ensureDir(join(path, '..'));
  writeFileAtomic(path, `${JSON.stringify(TuningFileSchema.parse(file), null, 2)}\n`);
}

/** The file at `path` to add entries to: its contents when it is this adapter's, else a new one (an unusable old file is replaced). */
export function tuningFileToUpdate(
  path: string,
  key: TuningKey,
  gitSha: string | null,
  now: string,
): { file: TuningFile; warning?: string } {
  if (!existsSync(path)) return { file: emptyTuningFile(key, gitSha, now) };
  const read = readTuningFile(path, key);
  if ('table' in read) return { file: read.table.file };
  return { file: emptyTuningFile(key, gitSha, now), warning: read.warning.replace(/: running the default plans$/, ': starting a new one') };
}
