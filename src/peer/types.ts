import type { KernelCase } from '../kernels/spec.js';
import type { StoppingRule } from '../measure/stopping.js';
import type { PeerResult } from '../results/schema.js';
import type { AdapterKindFacts } from '../util/adapter-kind.js';

/** Peer runtimes `run --peer` knows. */
export const PEER_NAMES = ['onnxruntime'] as const;
export type PeerName = (typeof PEER_NAMES)[number];

/** What a peer gets for one visit of a case: the built case (inputs and reference) and the visit's stopping rule. */
export interface PeerCase {
  family: string;
  params: Readonly<Record<string, number | string>>;
  kernelCase: KernelCase;
  rule: StoppingRule;
  /** The case's adapter: a peer runs on the same one (or says why it cannot be sure). */
  adapter: AdapterKindFacts & { description: string };
}

export interface PeerVisitOptions {
  /** The entry earlier visits left for the case (stage undefined) or one of its stages: none on a first visit. */
  previous(stage: string | undefined): PeerResult | undefined;
}

export interface Peer {
  readonly name: PeerName;
  readonly version: string;
  /**
   * One visit: an entry for the case and, where the peer compares stages one by one, one per stage. An entry is
   * checked on its first visit and timed; it holds this visit's samples only. An entry whose earlier visit did
   * not end ok is returned as it was, not run again.
   */
  visit(input: PeerCase, options: PeerVisitOptions): Promise<PeerResult[]>;
}
