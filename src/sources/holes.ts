import { execFileSync } from 'node:child_process';
import { mergeAdjacent } from '../maps/ranges';
import { readAt } from '../io/byte-source';
import { FileSource } from '../io/file-source';
import { PAGE, RamRange, rangeEnd } from '../types';

const CHUNK = 1 << 20;
/** Zero runs shorter than this stay RAM: a zero page inside RAM is normal, and splitting at each would fragment the map. */
export const MIN_HOLE = 1 << 20;

/**
 * Data extents by SEEK_DATA/SEEK_HOLE. Node has no lseek, so python3's
 * os.lseek asks the kernel; null when that is not possible (then every byte
 * is read). Filesystems without hole support report one extent.
 */
function dataExtents(image: FileSource): RamRange[] | null {
  // The image's own descriptor as python's stdin: no second open by name (no access-time update, no other file).
  const script = [
    'import os',
    'fd = 0; end = os.fstat(fd).st_size; pos = 0',
    'while pos < end:',
    '    try: d = os.lseek(fd, pos, os.SEEK_DATA)',
    '    except OSError: break',
    '    h = os.lseek(fd, d, os.SEEK_HOLE); print(d, h - d); pos = h',
  ].join('\n');
  try {
    const out = execFileSync('python3', ['-c', script], { encoding: 'utf8', stdio: [image.fd, 'pipe', 'ignore'], maxBuffer: 256 << 20 });
    return out.split('\n').filter(Boolean).map((l) => {
      const [start, length] = l.split(' ').map(Number);
      return { start, length };
    });
  } catch {
    return null;
  }
}

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
export async function scanHoles(image: FileSource): Promise<HoleScan> {
  const extents = dataExtents(image) ?? [{ start: 0, length: image.size }];
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
