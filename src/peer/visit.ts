import type { KernelCase } from '../kernels/spec.js';
import type { StoppingRule } from '../measure/stopping.js';
import type { Measurement } from '../results/schema.js';
import { nextPeerEntry } from './pool.js';
import type { Peer, PeerCase } from './types.js';

/** Families whose cases are not operators anyone else runs: no peer entry at all. */
const NOT_COMPARED = new Set(['calibration']);

/**
 * One visit of every peer on a case the runner has just timed (a timed 'ok' case only): checked on the first
 * visit, sampled with the visit's rule right after the case, so the case and its peers alternate through the
 * run's visits and see the same drift; pooled into measurement.peers.
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
    // Every entry is checked on the case's first visit.
    const previous = (stage: string | undefined) =>
      visit === 1 ? undefined : measurement.peers?.find((entry) => entry.peer === peer.name && entry.stage === stage);
    const results = await peer.visit({ family: measurement.family, params: measurement.params, kernelCase, rule, adapter }, { previous });
    entries.push(...results.map((result) => nextPeerEntry(previous(result.stage), result)));
  }
  return { ...measurement, peers: entries };
}
