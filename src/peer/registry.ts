import { UserError } from '../errors.js';
import { OnnxRuntimePeer } from './onnxruntime/peer.js';
import { PEER_NAMES, type Peer, type PeerName } from './types.js';

function isPeerName(name: string): name is PeerName {
  return (PEER_NAMES as readonly string[]).includes(name);
}

/** `--peer` values checked before any GPU work: an unknown name is a usage error. */
export function parsePeerNames(values: readonly string[]): PeerName[] {
  const names: PeerName[] = [];
  for (const value of values) {
    if (!isPeerName(value)) throw new UserError(`unknown peer "${value}"; known peers: ${PEER_NAMES.join(', ')}`);
    if (!names.includes(value)) names.push(value);
  }
  return names;
}

/** Loads each peer runtime (a missing one is a UserError naming the command that installs it). */
export async function openPeers(names: readonly PeerName[]): Promise<Peer[]> {
  const peers: Peer[] = [];
  for (const name of names) {
    switch (name) {
      case 'onnxruntime':
        peers.push(await OnnxRuntimePeer.open());
        break;
    }
  }
  return peers;
}
