import { gunzipSync, gzipSync } from 'node:zlib';

/**
 * How a results file is stored: compact JSON text, gzip-compressed where its name ends in .gz (the committed
 * baselines: a rerun then replaces one small binary file instead of rewriting a text diff of every sample).
 * Readers go by the bytes, not the name: a gzip stream starts with 1f 8b, which JSON text never does.
 */

export function isGzipped(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** The file's contents for a value: compact (one line), gzipped for a .gz name. Gzip here has no name or time in its header, so the same value gives the same bytes. */
export function encodeStoredJson(value: unknown, path: string): string | Uint8Array {
  const text = JSON.stringify(value) + '\n';
  return path.endsWith('.gz') ? gzipSync(text, { level: 9 }) : text;
}

/** A stored file's JSON text; throws where a gzip stream is cut short or corrupt. */
export function decodeStoredJson(bytes: Uint8Array): string {
  return Buffer.from(isGzipped(bytes) ? gunzipSync(bytes) : bytes).toString('utf8');
}
