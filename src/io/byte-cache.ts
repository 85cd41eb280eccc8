import { LRUCache } from 'lru-cache';

/**
 * The one process-wide cache of bytes kept for later reads (`--cache-mb`):
 * decoded chunks (chunk-store.ts) and pages fetched from remote objects
 * (remote-source.ts) share one LRU and one byte budget. An entry costs the
 * memory block it keeps alive plus a Buffer's fixed cost, so the process
 * stays within the budget plus a fixed base however many stores and sources
 * it has open.
 */

const MiB = 1024 * 1024;
/**
 * What one entry costs beyond its bytes: the Buffer, its ArrayBuffer and
 * backing store, the LRU's slots and key. Measured 430-480 bytes on Node 20
 * (half a million entries of 1 to 4096 bytes); counted with every entry, so
 * that a million tiny entries cannot hold 500 MB under a 64 MiB budget.
 * (Formats with tiny chunks join them into larger entries in their index,
 * e.g. AVML's spans.)
 */
export const ENTRY_OVERHEAD = 512;
/** Entry numbers of one space stay below this (the space id is above it in the key). */
const SPACE_SIZE = 2 ** 32;

let budget = 64 * MiB;
let cache: LRUCache<number, Buffer> | null = null;
let nextSpace = 1;

/** Sets the process-wide byte budget (0: nothing is kept); drops what was cached. */
export function setCacheBudget(bytes: number): void {
  budget = bytes;
  cache = null;
}

/** Raises the budget to at least `bytes` (a remote source's block and read-ahead must fit); drops what was cached if it changes. */
export function cacheBudgetAtLeast(bytes: number): void {
  if (budget < bytes) setCacheBudget(bytes);
}

export function cacheBudget(): number {
  return budget;
}

/** An entry's cost: the whole memory block it keeps alive, plus the fixed cost of a Buffer in the LRU. */
function entryCost(b: Buffer): number {
  return b.buffer.byteLength + ENTRY_OVERHEAD;
}

function shared(): LRUCache<number, Buffer> | null {
  if (!cache && budget > 0) cache = new LRUCache<number, Buffer>({ maxSize: budget, sizeCalculation: entryCost });
  return cache;
}

/** Bytes the cache counts now (for tests, info and the bench). */
export function cacheBytes(): number {
  return cache?.calculatedSize ?? 0;
}

/** Entries the cache holds now (for tests and the bench). */
export function cacheEntries(): number {
  return cache?.size ?? 0;
}

/** Is `b` the whole of its memory block (not a view of a larger one that the cache would keep alive)? */
export function ownsMemory(b: Buffer): boolean {
  return b.byteOffset === 0 && b.buffer.byteLength === b.length;
}

/** A copy in a memory block of its own (Buffer.from would place a small one in Node's shared pool). */
export function ownCopy(data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafeSlow(data.length);
  out.set(data);
  return out;
}

/** One user's entries in the shared cache (a chunk store, a remote source), numbered 0 .. 2^32-1. */
export class CacheSpace {
  private readonly id = nextSpace++;

  private key(n: number): number {
    return this.id * SPACE_SIZE + n;
  }

  get(n: number): Buffer | undefined {
    return shared()?.get(this.key(n));
  }

  has(n: number): boolean {
    return shared()?.has(this.key(n)) ?? false;
  }

  /** Keeps `data` (a view of a larger block is copied first: kept as it is, it would keep the whole block alive); returns what is kept. */
  set(n: number, data: Buffer): Buffer {
    const own = ownsMemory(data) ? data : ownCopy(data);
    shared()?.set(this.key(n), own);
    return own;
  }

  /** Drops every entry of this space (a walk of the cache's entries, not of the space's numbers). */
  clear(): void {
    const c = cache;
    if (!c) return;
    const mine: number[] = [];
    for (const k of c.keys()) if (Math.floor(k / SPACE_SIZE) === this.id) mine.push(k);
    for (const k of mine) c.delete(k);
  }
}
