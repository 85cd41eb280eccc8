import { mergeAdjacent } from '../maps/ranges';
import { ByteSource, readAt } from '../io/byte-source';
import { PAGE, RamRange, rangeEnd } from '../types';

const CHUNK = 1 << 20;
/** Zero runs shorter than this stay RAM: a zero page inside RAM is normal, and splitting at each would fragment the map. */
export const MIN_HOLE = 1 << 20;

export interface HoleScan {
  /** File ranges holding data: what a padded image without a map serves as RAM. */
  data: RamRange[];
  /** Bytes skipped as sparse-file holes without reading them. */
  sparseBytes: number;
  /** Bytes read and found to be all-zero pages. */
  zeroBytes: number;
}

/**
 * Finds the RAM of a padded image without a map: everything except sparse
 * holes and runs of all-zero pages of at least MIN_HOLE bytes. Page-granular
 * in file offsets (= physical addresses).
 */
/** A source that can say where a sparse file holds data (a local file: SEEK_DATA/SEEK_HOLE). */
export type ExtentSource = ByteSource & { dataExtents?(): RamRange[] | null };

export async function scanHoles(image: ExtentSource): Promise<HoleScan> {
  const extents = image.dataExtents?.() ?? [{ start: 0, length: image.size }];
  const pages: RamRange[] = [];
  const zero = Buffer.alloc(PAGE);
  let zeroBytes = 0;
  for (const e of extents) {
    const first = Math.floor(e.start / PAGE) * PAGE;
    const end = Math.min(image.size, Math.ceil(rangeEnd(e) / PAGE) * PAGE);
    for (let at = first; at < end; at += CHUNK) {
      const buf = await readAt(image, at, Math.min(CHUNK, end - at));
      for (let p = 0; p < buf.length; p += PAGE) {
        const page = buf.subarray(p, p + PAGE);
        if (page.equals(zero.subarray(0, page.length))) zeroBytes += page.length;
        else pages.push({ start: at + p, length: page.length });
      }
    }
  }
  const runs = mergeAdjacent(pages);
  // Short zero runs between data stay inside RAM.
  const data: RamRange[] = [];
  for (const r of runs) {
    const last = data[data.length - 1];
    if (last && r.start - rangeEnd(last) < MIN_HOLE) last.length = rangeEnd(r) - last.start;
    else data.push({ ...r });
  }
  const dataInExtents = extents.reduce((n, e) => n + e.length, 0);
  return { data, sparseBytes: image.size - dataInExtents, zeroBytes };
}
