import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { z } from 'zod';
import { UserError } from '../errors.js';
import { migrateHeader, migrateMeasurement, migrateResultFile, unreadableVersion } from './migrate.js';
import { decodeStoredJson, encodeStoredJson, isGzipped } from './stored-json.js';
import {
  MeasurementSchema,
  ResultFileSchema,
  ResultHeaderSchema,
  type Measurement,
  type ResultFile,
  type ResultHeader,
} from './schema.js';

export const JOURNAL_SUFFIX = '.journal.jsonl';

export function journalPath(resultsPath: string): string {
  return resultsPath + JOURNAL_SUFFIX;
}

export function resultsPathOfJournal(journal: string): string {
  return journal.endsWith(JOURNAL_SUFFIX) ? journal.slice(0, -JOURNAL_SUFFIX.length) : journal;
}

const IO_REASONS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EEXIST: 'a part of the path is a file, not a folder',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
};

export function describeIo(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code) return `${IO_REASONS[code] ?? (error as Error).message.split(',')[0]} (${code})`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * mkdir -p that fails instead of looping: node's recursive mkdir spins forever where the kernel answers ENOENT
 * for a folder it will never create (under /proc), so each missing folder is made on its own.
 */
export function ensureDir(dir: string): void {
  const missing: string[] = [];
  let at = resolve(dir);
  for (;;) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(at).isDirectory();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(at) === at) throw error;
      missing.unshift(at);
      at = dirname(at);
      continue;
    }
    if (!isDirectory) throw Object.assign(new Error(`${at} is not a folder`), { code: 'ENOTDIR' });
    break;
  }
  for (const folder of missing) {
    try {
      mkdirSync(folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(folder).isDirectory()) throw error;
    }
  }
}

/** Writes a whole file or nothing: a temporary file beside it, fsynced, then renamed over it. */
export function writeFileAtomic(path: string, contents: string | Uint8Array): void {
  const temporary = `${path}.tmp-${process.pid}`;
  try {
    ensureDir(dirname(path));
    const fd = openSync(temporary, 'w');
    try {
      writeFileSync(fd, contents);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    throw new UserError(`cannot write ${path}: ${describeIo(error)}`);
  }
}

/**
 * Append-only log of a run: the header first, then one line per finished case, each fsynced,
 * so a run killed at any moment keeps every case it finished.
 */
export class Journal {
  private constructor(
    readonly path: string,
    private readonly fd: number,
  ) {}

  /** A new journal; never over an existing one (the runner decides, with the user, what to do with that). */
  static create(path: string, header: ResultHeader): Journal {
    let fd: number;
    try {
      ensureDir(dirname(path));
      fd = openSync(path, 'wx');
    } catch (error) {
      throw new UserError(`cannot write results to ${resultsPathOfJournal(path)}: ${describeIo(error)}`);
    }
    const journal = new Journal(path, fd);
    journal.appendLine({ type: 'header', header });
    return journal;
  }

  /** Reopens for appending; a torn last line (the run was killed mid-write) is cut off first. */
  static reopen(path: string): Journal {
    try {
      const text = readFileSync(path, 'utf8');
      const end = text.lastIndexOf('\n') + 1;
      if (end < text.length) truncateSync(path, Buffer.byteLength(text.slice(0, end)));
      return new Journal(path, openSync(path, 'a'));
    } catch (error) {
      throw new UserError(`cannot append to ${path}: ${describeIo(error)}`);
    }
  }

  append(measurement: Measurement): void {
    this.appendLine({ type: 'case', measurement });
  }

  private appendLine(value: unknown): void {
    writeSync(this.fd, JSON.stringify(value) + '\n');
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}

function issuePath(issue: z.core.$ZodIssue): string {
  return issue.path.length ? issue.path.map(String).join('.') : '(top level)';
}

function parseOrExplain<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UserError(`${where}: ${issue ? `${issuePath(issue)}: ${issue.message}` : 'invalid'}`);
  }
  return parsed.data;
}

export interface JournalContents {
  header: ResultHeader;
  cases: Measurement[];
}

/** Reads a journal back; a torn last line (a kill mid-write) is dropped, anything else malformed is an error. */
export function readJournal(path: string): JournalContents {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UserError(`cannot read journal ${path}: ${describeIo(error)}`);
  }
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const records: unknown[] = [];
  lines.forEach((line, index) => {
    try {
      records.push(JSON.parse(line));
    } catch {
      if (index !== lines.length - 1) throw new UserError(`${path}: line ${index + 1} is not JSON`);
    }
  });
  const [first, ...rest] = records as Array<{ type?: string; header?: unknown; measurement?: unknown }>;
  if (!first || first.type !== 'header') throw new UserError(`${path}: not an mla-bench journal (no header line)`);
  const unreadable = unreadableVersion(first.header);
  if (unreadable) throw new UserError(`${path}: ${unreadable}`);
  // Every line is brought from the header's schema version to the current one (migrate.ts).
  const header = parseOrExplain(ResultHeaderSchema, migrateHeader(first.header), `${path}: header`);
  const measurements = rest.map((record, index) => parseOrExplain(MeasurementSchema, migrateMeasurement(record.measurement, first.header), `${path}: line ${index + 2}`));
  // A case visited several times has a line per visit, each pooling the ones before: the last one stands.
  const latest = new Map<string, Measurement>();
  for (const measurement of measurements) latest.set(measurement.key, measurement);
  return { header, cases: [...latest.values()] };
}

/** Compact JSON, gzip-compressed where the name ends in .gz (stored-json.ts); whole or not at all. */
export function writeResultFile(path: string, results: ResultFile): void {
  writeFileAtomic(path, encodeStoredJson(results, path));
}

/** A results file, plain or gzip-compressed JSON, of any schema version this mla-bench reads, in the current shape. */
export function readResultFile(path: string): ResultFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new UserError(`cannot read ${path}: ${describeIo(error)}`);
  }
  let text: string;
  try {
    text = decodeStoredJson(bytes);
  } catch (error) {
    throw new UserError(`${path}: not a valid gzip file (${error instanceof Error ? error.message : String(error)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UserError(`${path}: not valid JSON${isGzipped(bytes) ? ' inside the gzip stream' : ''} (${error instanceof Error ? error.message : String(error)})`);
  }
  const schema = (json as { schema?: unknown } | null)?.schema;
  if (schema !== 'mla-bench/results') throw new UserError(`${path}: schema: not an mla-bench results file`);
  const unreadable = unreadableVersion(json);
  if (unreadable) throw new UserError(`${path}: ${unreadable}`);
  return parseOrExplain(ResultFileSchema, migrateResultFile(json), path);
}

/** The newest journal left by an interrupted run under `dir`, if any. */
export function latestJournal(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  const journals = readdirSync(dir)
    .filter((name) => name.endsWith(JOURNAL_SUFFIX))
    .map((name) => join(dir, name))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return journals[0];
}
