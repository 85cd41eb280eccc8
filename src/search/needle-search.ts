import { ByteSource } from '../io/byte-source';
import { SimdSearcher } from './simd-search';

/**
 * Every offset of each needle in [0, size) of a file, in one sequential pass:
 * large reads, chunks that overlap by the longest needle's length less one
 * byte (a match straddling a chunk boundary is found exactly once). Two
 * needles are searched together by WebAssembly SIMD (simd-search.ts)
 * where available, otherwise each with Buffer.indexOf.
 */

export interface SearchResult {
  /** Per needle, ascending file offsets of its first byte. */
  hits: number[][];
  /** Some needle reached `maxHits`; later hits were not collected. */
  capped: boolean;
}

export interface SearchOptions {
  chunkSize: number;
  maxHits: number;
  /** false: Buffer.indexOf even where SIMD is available (tests compare the two). */
  simd?: boolean;
}

export async function searchSource(source: ByteSource, needles: Buffer[], opts: SearchOptions): Promise<SearchResult> {
  const { size } = source;
  const overlap = Math.max(...needles.map((n) => n.length)) - 1;
  if (opts.chunkSize <= overlap) throw new Error(`chunk size ${opts.chunkSize} is not above the needle overlap ${overlap}`);
  const simd = opts.simd === false ? null : SimdSearcher.create(needles, opts.chunkSize);
  const buf = simd ? simd.buffer : Buffer.allocUnsafe(opts.chunkSize);
  const result: SearchResult = { hits: needles.map(() => []), capped: false };
  let pos = 0;
  const add = (k: number, at: number) => {
    if (result.hits[k].length < opts.maxHits) result.hits[k].push(pos + at);
    else result.capped = true;
  };
  while (pos < size) {
    const n = await source.read(buf, 0, Math.max(0, Math.min(buf.length, size - pos)), pos);
    if (simd) {
      simd.search(n, add);
    } else {
      const chunk = buf.subarray(0, n);
      needles.forEach((needle, k) => {
        for (let i = chunk.indexOf(needle); i >= 0; i = chunk.indexOf(needle, i + 1)) add(k, i);
      });
    }
    if (pos + n >= size || n <= overlap) break;
    pos += n - overlap;
  }
  return result;
}
