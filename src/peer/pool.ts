import { summarize } from '../measure/statistics.js';
import type { PeerFailingKernels, PeerNumericsFailed, PeerOk, PeerResult } from '../results/schema.js';

const pooledSeries = (a: { samplesMs: number[] }, b: { samplesMs: number[] }) => {
  const samplesMs = [...a.samplesMs, ...b.samplesMs];
  return { stats: summarize(samplesMs), samplesMs };
};

/**
 * A peer's visits pooled as the case's are (src/results/visits.ts): samples concatenated, statistics
 * recomputed, each visit's medians kept. The first visit's numerics stand; per-program statistics are the
 * latest visit's (their samples are not kept).
 */
export function poolPeerVisit(pooled: PeerOk, visit: PeerOk): PeerOk {
  const run = pooledSeries(pooled.wall.run, visit.wall.run);
  const overhead = pooledSeries(pooled.wall.overhead, visit.wall.overhead);
  const beyond =
    pooled.kernels.beyond && visit.kernels.beyond
      ? pooledSeries(pooled.kernels.beyond, visit.kernels.beyond)
      : (pooled.kernels.beyond ?? visit.kernels.beyond);
  return {
    ...pooled,
    kernels: { operator: pooledSeries(pooled.kernels.operator, visit.kernels.operator), beyond, programs: visit.kernels.programs },
    wall: { run, overhead, netMedianMs: run.stats.median - overhead.stats.median },
    visits: pooled.visits + visit.visits,
    visitMedians: [...pooled.visitMedians, ...visit.visitMedians],
  };
}

/**
 * The entry after one more visit: only an entry that is ok so far is visited again; a failed visit keeps the earlier
 * ones. A peer that failed the check comes back with that visit's kernel times alone (or none), pooled here.
 */
export function nextPeerEntry(previous: PeerResult | undefined, visit: PeerResult): PeerResult {
  if (!previous) return visit;
  if (previous.status === 'numerics-failed' && visit.status === 'numerics-failed')
    return poolFailingKernels(previous, visit.failingKernels ?? null);
  if (previous.status !== 'ok' || visit.status !== 'ok') return previous;
  return poolPeerVisit(previous, visit);
}

/**
 * A failing peer's kernel times after one more visit: operator (and beyond) samples pooled, each visit's median
 * kept, the latest visit's programs; an untimed visit (null) keeps the entry as it was.
 */
export function poolFailingKernels(entry: PeerNumericsFailed, visit: PeerFailingKernels | null): PeerNumericsFailed {
  if (!visit) return entry;
  const pooled = entry.failingKernels;
  if (!pooled) return { ...entry, failingKernels: visit };
  const beyond = pooled.beyond && visit.beyond ? pooledSeries(pooled.beyond, visit.beyond) : (pooled.beyond ?? visit.beyond);
  return {
    ...entry,
    failingKernels: {
      operator: pooledSeries(pooled.operator, visit.operator),
      beyond,
      programs: visit.programs,
      visitMediansMs: [...pooled.visitMediansMs, ...visit.visitMediansMs],
    },
  };
}
