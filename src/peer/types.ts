import type { KernelCase } from '../kernels/spec.js';
import type { StoppingRule } from '../measure/stopping.js';
import type { PeerFailingKernels, PeerResult } from '../results/schema.js';
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

export interface Peer {
  readonly name: PeerName;
  readonly version: string;
  /** One visit: checked (first visit) and timed; the result holds this visit's samples only. */
  visit(input: PeerCase, options: { check: boolean }): Promise<PeerResult>;
  /**
   * A later visit of a case whose output failed the check: its kernels' own times only (data, never a result);
   * null where they cannot be taken.
   */
  timeFailingKernels?(input: PeerCase): Promise<PeerFailingKernels | null>;
}
