/** What the remote-source tests share: deterministic object bytes and awaiting a failure. */
import * as crypto from 'node:crypto';

/** Deterministic bytes, different in every 4 KiB (a SHA-256 of salt and index every 32 bytes). */
export function imageBytes(size: number, salt: number): Buffer {
  const out = Buffer.alloc(size);
  for (let at = 0, i = 0; at < size; at += 32, i++) {
    crypto.createHash('sha256').update(`${salt}:${i}`).digest().copy(out, at);
  }
  return out;
}

/** The error `p` rejects with; a test fails if it resolves. */
export async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
}
