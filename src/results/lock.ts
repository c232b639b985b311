import { randomUUID } from 'node:crypto';
import { closeSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { UserError } from '../errors.js';
import { describeIo, ensureDir } from './store.js';

export const LOCK_SUFFIX = '.lock';

/** Who holds a results path: written into the lock file, so a second run can name the holder. */
export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  /** Tells two holders with the same pid apart (a pid reused after a crash). */
  token: string;
}

function isHolder(value: unknown): value is LockHolder {
  const v = value as Partial<LockHolder> | null;
  return typeof v === 'object' && v !== null && Number.isInteger(v.pid) && typeof v.host === 'string' && typeof v.token === 'string';
}

function readHolder(path: string): LockHolder | 'missing' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable';
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return isHolder(parsed) ? parsed : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/** Whether a process with this pid runs on this machine (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A lock left by a run that is gone: its process no longer runs here. A lock from another host (a shared
 * folder) or one that cannot be read is never judged stale: the user decides.
 */
export function isStale(holder: LockHolder, host: string, alive: (pid: number) => boolean): boolean {
  return holder.host === host && !alive(holder.pid);
}

function createExclusive(path: string, holder: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new UserError(`cannot lock ${path}: ${describeIo(error)}`);
  }
  try {
    writeSync(fd, JSON.stringify(holder) + '\n');
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Moves a stale lock aside atomically (only one of several runs taking it over can move it), and puts it back
 * if what was moved is not the lock judged stale (another run took it over first and holds it now).
 */
function removeStale(path: string, stale: LockHolder): void {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return;
  }
  const moved = readHolder(aside);
  if (typeof moved === 'object' && moved.token !== stale.token) {
    try {
      linkSync(aside, path);
    } catch {
      // The path is taken again; whoever holds it now keeps it.
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // Already gone.
  }
}

function busy(resultsPath: string, holder: LockHolder, host: string): UserError {
  const where = holder.host === host ? `pid ${holder.pid}` : `pid ${holder.pid} on ${holder.host}`;
  return new UserError(`${resultsPath} is in use by another mla-bench run (${where}, since ${holder.startedAt}); wait for it or choose another --out`);
}

/**
 * An exclusive lock on a results path for the life of a run: `<results>.lock` holds the holder's pid. A
 * second run on the same path is refused with the holder named; a lock whose process is gone (a run killed
 * with SIGKILL) is taken over.
 */
export class ResultsLock {
  private released = false;
  private readonly onExit = (): void => this.release();

  private constructor(
    readonly path: string,
    private readonly holder: LockHolder,
  ) {
    process.on('exit', this.onExit);
  }

  /** Refuses at once (before a run opens the GPU) when another live run holds the path. */
  static assertFree(resultsPath: string, alive: (pid: number) => boolean = processAlive): void {
    const holder = readHolder(resultsPath + LOCK_SUFFIX);
    if (typeof holder !== 'object' || (holder.pid === process.pid && holder.host === hostname())) return;
    if (!isStale(holder, hostname(), alive)) throw busy(resultsPath, holder, hostname());
  }

  static acquire(resultsPath: string, alive: (pid: number) => boolean = processAlive): ResultsLock {
    const path = resultsPath + LOCK_SUFFIX;
    try {
      ensureDir(dirname(path));
    } catch (error) {
      throw new UserError(`cannot write results to ${resultsPath}: ${describeIo(error)}`);
    }
    const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), token: randomUUID() };
    for (let attempt = 0; attempt < 5; attempt++) {
      if (createExclusive(path, me)) return new ResultsLock(path, me);
      const holder = readHolder(path);
      if (holder === 'missing') continue;
      if (holder === 'unreadable') throw new UserError(`${resultsPath} is locked by ${path}, which is not an mla-bench lock; remove it if no run uses that path`);
      if (!isStale(holder, me.host, alive)) throw busy(resultsPath, holder, me.host);
      removeStale(path, holder);
    }
    throw new UserError(`cannot lock ${resultsPath}: other runs keep taking it`);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    process.removeListener('exit', this.onExit);
    const current = readHolder(this.path);
    if (typeof current === 'object' && current.token !== this.holder.token) return;
    try {
      unlinkSync(this.path);
    } catch {
      // Gone already: nothing to release.
    }
  }
}
