import type { KernelCase } from '../kernels/spec.js';
import type { StoppingRule } from '../measure/stopping.js';
import type { Measurement } from '../results/schema.js';
import { nextPeerEntry, poolFailingKernels } from './pool.js';
import type { Peer, PeerCase } from './types.js';

/** Families whose cases are not operators anyone else runs: no peer entry at all. */
const NOT_COMPARED = new Set(['calibration']);

/**
 * One visit of every peer on a case the runner has just timed (a timed 'ok' case only): checked on the first
 * visit, sampled with the visit's rule right after the case, so the case and its peers alternate through the
 * run's visits and see the same drift; pooled into measurement.peers. A peer that failed the check is not run as
 * a result again; only its kernels' times are taken again, where it took them on the first visit.
 */
export async function visitPeers(
  peers: readonly Peer[],
  measurement: Measurement,
  kernelCase: KernelCase,
  rule: StoppingRule,
  visit: number,
  adapter: PeerCase['adapter'],
): Promise<Measurement> {
  if (peers.length === 0 || measurement.status !== 'ok' || NOT_COMPARED.has(measurement.family)) return measurement;
  const entries = [];
  for (const peer of peers) {
    const previous = measurement.peers?.find((entry) => entry.peer === peer.name);
    const input = { family: measurement.family, params: measurement.params, kernelCase, rule, adapter };
    if (previous?.status === 'numerics-failed' && previous.failingKernels && peer.timeFailingKernels) {
      entries.push(poolFailingKernels(previous, await peer.timeFailingKernels(input)));
      continue;
    }
    if (previous && previous.status !== 'ok') {
      entries.push(previous);
      continue;
    }
    const result = await peer.visit(input, { check: visit === 1 || !previous });
    entries.push(nextPeerEntry(previous, result));
  }
  return { ...measurement, peers: entries };
}
