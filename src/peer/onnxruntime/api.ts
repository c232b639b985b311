import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UserError } from '../../errors.js';

/**
 * The part of onnxruntime-node's API a peer uses, typed here so that nothing else sees ORT's own types (the
 * package is optional: it lives in a project-local prefix, not in the project's dependencies).
 */

export type OrtTensorType = 'float32' | 'float16' | 'int32' | 'int64';
export type OrtTensorData = Float32Array | Uint16Array | Int32Array | BigInt64Array;

export interface OrtTensor {
  readonly type: string;
  readonly dims: readonly number[];
  /** 'cpu' or 'gpu-buffer' (outputs asked to stay on the GPU). */
  readonly location: string;
  /** Host data of a 'cpu' tensor. */
  readonly data: unknown;
  dispose(): void;
}

export type OrtOutputLocation = 'cpu' | 'gpu-buffer';

export interface OrtSessionOptions {
  executionProviders: readonly { name: 'webgpu' | 'cpu'; [option: string]: unknown }[];
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  enableProfiling?: boolean;
  profileFilePrefix?: string;
  /** 0 verbose ... 4 fatal. */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  preferredOutputLocation?: Readonly<Record<string, OrtOutputLocation>>;
  /** Session config entries (key path -> string value), e.g. { session: { disable_cpu_ep_fallback: '1' } }. */
  extra?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Readonly<Record<string, OrtTensor>>): Promise<Readonly<Record<string, OrtTensor>>>;
  endProfiling(): void;
  release(): Promise<void>;
}

export interface OrtApi {
  readonly version: string;
  createSession(model: Uint8Array, options: OrtSessionOptions): Promise<OrtSession>;
  tensor(type: OrtTensorType, data: OrtTensorData, dims: readonly number[]): OrtTensor;
}

/** Where `node scripts/install-peer.mjs onnxruntime` installs the package (git-ignored). */
export const PEERS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '.peers');
export const ORT_PREFIX = join(PEERS_DIR, 'onnxruntime');
export const ORT_INSTALL_COMMAND = 'node scripts/install-peer.mjs onnxruntime';

/** The one command that installs the peer, in the error a run without it gives. */
export class PeerNotInstalledError extends UserError {}

interface OrtModuleShape {
  env: { versions: { node?: string; common: string } };
  InferenceSession: { create(model: Uint8Array, options: OrtSessionOptions): Promise<OrtSession> };
  Tensor: new (type: OrtTensorType, data: OrtTensorData, dims: readonly number[]) => OrtTensor;
}

function isOrtModule(value: unknown): value is OrtModuleShape {
  const m = value as Partial<OrtModuleShape> | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof m.InferenceSession?.create === 'function' &&
    typeof m.Tensor === 'function' &&
    typeof m.env?.versions === 'object'
  );
}

let loaded: Promise<OrtApi> | undefined;

/** onnxruntime-node from the project-local prefix, loaded once; a clear error naming the install command when absent. */
export function loadOnnxRuntime(prefix: string = ORT_PREFIX): Promise<OrtApi> {
  if (prefix === ORT_PREFIX && loaded) return loaded;
  const promise = (async (): Promise<OrtApi> => {
    const manifest = join(prefix, 'package.json');
    let entry: string;
    try {
      if (!existsSync(manifest)) throw new Error('no prefix');
      entry = createRequire(manifest).resolve('onnxruntime-node');
    } catch {
      throw new PeerNotInstalledError(`peer onnxruntime is not installed (it is optional, about 300 MB): run \`${ORT_INSTALL_COMMAND}\``);
    }
    const imported: unknown = await import(pathToFileURL(entry).href);
    const module = isOrtModule(imported) ? imported : (imported as { default?: unknown }).default;
    if (!isOrtModule(module)) throw new Error(`${entry} does not look like onnxruntime-node`);
    return {
      version: module.env.versions.node ?? module.env.versions.common,
      createSession: (model, options) => module.InferenceSession.create(model, options),
      tensor: (type, data, dims) => new module.Tensor(type, data, dims),
    };
  })();
  if (prefix === ORT_PREFIX) {
    loaded = promise;
    promise.catch(() => {
      loaded = undefined;
    });
  }
  return promise;
}
