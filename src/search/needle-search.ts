import { ByteSource } from '../io/byte-source';
import { SimdSearcher } from './simd-search';

/**
 * Every offset of each needle in a source, in one sequential pass: large
 * reads, chunks that overlap by the longest needle's length less one byte (a
 * match straddling a chunk boundary is found exactly once). One or two
 * needles are searched by WebAssembly SIMD (simd-search.ts) where available,
 * otherwise each with Buffer.indexOf. Used by the image scan (mapfind/) and
 * the kernel note harvest (kernel/).
 */

export interface SearchResult {
  /** Per needle, ascending file offsets of its first byte. */
  hits: number[][];
  /** Some needle reached `maxHits`; later hits were not collected. */
  capped: boolean;
}

export interface ChunkOptions {
  /** Bytes per read (the step is this less the overlap). */
  chunkSize: number;
  /** false: Buffer.indexOf even where SIMD is available (tests compare the two). */
  simd?: boolean;
}

export interface SearchOptions extends ChunkOptions {
  maxHits: number;
}

/**
 * Reads `source` chunk by chunk and hands `visit` each chunk's hits (source
 * offsets, ascending per needle) with the chunk's start; `visit` returns true
 * to stop the search.
 */
export async function searchChunks(
  source: ByteSource,
  needles: Buffer[],
  opts: ChunkOptions,
  visit: (hits: number[][], chunkStart: number) => boolean | void | Promise<boolean | void>,
): Promise<void> {
  const overlap = Math.max(...needles.map((n) => n.length)) - 1;
  if (opts.chunkSize <= overlap) throw new Error(`chunk size ${opts.chunkSize} is not above the needle overlap ${overlap}`);
  // One needle: the SIMD pass takes two, so it searches for it twice and the second's hits are dropped.
  const simd = opts.simd === false ? null : takeSearcher(needles.length === 1 ? [needles[0], needles[0]] : needles, opts.chunkSize);
  try {
    await searchWith(source, needles, simd, opts.chunkSize, overlap, visit);
  } finally {
    if (simd) giveBack(simd);
  }
}

/**
 * Searchers not in use, by needles and chunk size: a search of many small
 * parts (the note harvest over a million RAM ranges) reuses one instead of
 * instantiating WebAssembly and its chunk-sized memory per part.
 */
const idle = new Map<string, SimdSearcher[]>();
const keys = new WeakMap<SimdSearcher, string>();

function takeSearcher(needles: Buffer[], chunkSize: number): SimdSearcher | null {
  const key = `${chunkSize}:${needles.map((n) => n.toString('hex')).join(',')}`;
  const reused = idle.get(key)?.pop();
  if (reused) return reused;
  const made = SimdSearcher.create(needles, chunkSize);
  if (made) keys.set(made, key);
  return made;
}

function giveBack(simd: SimdSearcher): void {
  const key = keys.get(simd)!;
  const list = idle.get(key) ?? [];
  list.push(simd);
  idle.set(key, list);
}

async function searchWith(
  source: ByteSource,
  needles: Buffer[],
  simd: SimdSearcher | null,
  chunkSize: number,
  overlap: number,
  visit: (hits: number[][], chunkStart: number) => boolean | void | Promise<boolean | void>,
): Promise<void> {
  const { size } = source;
  const buf = simd ? simd.buffer : Buffer.allocUnsafe(chunkSize);
  let pos = 0;
  while (pos < size) {
    const n = await source.read(buf, 0, Math.max(0, Math.min(buf.length, size - pos)), pos);
    const hits: number[][] = needles.map(() => []);
    if (simd) {
      simd.search(n, (k, at) => {
        if (k < needles.length) hits[k].push(pos + at);
      });
    } else {
      const chunk = buf.subarray(0, n);
      needles.forEach((needle, k) => {
        for (let i = chunk.indexOf(needle); i >= 0; i = chunk.indexOf(needle, i + 1)) hits[k].push(pos + i);
      });
    }
    if (await visit(hits, pos)) return;
    if (pos + n >= size || n <= overlap) break;
    pos += n - overlap;
  }
}

/** Every hit of each needle in the source, up to `maxHits` per needle. */
export async function searchSource(source: ByteSource, needles: Buffer[], opts: SearchOptions): Promise<SearchResult> {
  const result: SearchResult = { hits: needles.map(() => []), capped: false };
  await searchChunks(source, needles, opts, (hits) => {
    hits.forEach((list, k) => {
      for (const at of list) {
        if (result.hits[k].length < opts.maxHits) result.hits[k].push(at);
        else result.capped = true;
      }
    });
  });
  return result;
}
