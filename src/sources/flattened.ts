import { hex, InputError } from '../errors';
import { FLAT_END, FLAT_HEADER_SIZE, FLAT_RECORD_HEADER_SIZE, FLAT_TYPE, readFlatHeader, readFlatRecordHeader } from '../formats/flattened';
import { ByteSource } from '../io/byte-source';
import { BlockReader } from '../io/block-reader';
import { countAtOrBelow } from '../types';

/** Where a run of the diskdump file's bytes sits in the flattened file. */
interface Extent {
  /** Offset in the diskdump file. */
  dst: number;
  length: number;
  /** Offset in the flattened file. */
  src: number;
}

/**
 * The diskdump file a flattened file describes, served in place: the record
 * headers are read once (16 bytes each, data skipped), overlapping records
 * resolved (a later record wins, as `makedumpfile -R` writes them), and each
 * read is a lookup in the sorted extents. Bytes no record wrote read as zeros,
 * as in the file -R would make.
 */
export class FlattenedSource implements ByteSource {
  readonly size: number;
  readonly label: string;

  private constructor(
    private readonly file: ByteSource,
    private readonly extents: Extent[],
    readonly records: number,
    readonly overwritten: number,
  ) {
    const last = extents[extents.length - 1];
    this.size = last ? last.dst + last.length : 0;
    this.label = file.label;
  }

  static async open(file: ByteSource): Promise<FlattenedSource> {
    const fail = (what: string): never => {
      throw new InputError(`${file.label}: ${what}`);
    };
    const r = new BlockReader(file);
    const head = await r.at(0, 32);
    const h = readFlatHeader(head);
    if (!h) fail('not a makedumpfile flattened file (no "makedumpfile" signature at file offset 0x0)');
    if (h!.type !== FLAT_TYPE) fail(`flattened header type ${h!.type} at file offset 0x10 is not ${FLAT_TYPE} (makedumpfile's TYPE_FLAT_HEADER)`);
    if (file.size < FLAT_HEADER_SIZE) fail(`truncated flattened header: ${file.size} of ${FLAT_HEADER_SIZE} bytes`);
    const records: Extent[] = [];
    let pos = FLAT_HEADER_SIZE;
    for (;;) {
      const b = await r.at(pos, FLAT_RECORD_HEADER_SIZE);
      if (b.length < FLAT_RECORD_HEADER_SIZE) {
        fail(`flattened stream ends at file offset ${hex(pos)} without its end marker (offset -1, size -1): truncated`);
      }
      const rec = readFlatRecordHeader(b);
      if (rec.offset === FLAT_END && rec.size === FLAT_END) break;
      if (rec.offset < 0 || rec.size < 0) {
        fail(`bad flattened record header at file offset ${hex(pos)}: offset ${rec.offset}, size ${rec.size}`);
      }
      const data = pos + FLAT_RECORD_HEADER_SIZE;
      if (data + rec.size > file.size) {
        fail(
          `truncated flattened record at file offset ${hex(pos)}: ${rec.size} bytes for diskdump offset ${hex(rec.offset)}, the file ends after ${file.size - data}`,
        );
      }
      if (rec.size > 0) records.push({ dst: rec.offset, length: rec.size, src: data });
      pos = data + rec.size;
    }
    const { extents, overwritten } = resolve(records);
    return new FlattenedSource(file, extents, records.length, overwritten);
  }

  async read(target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number> {
    const end = Math.min(this.size, position + length);
    let pos = position;
    let i = lowerBound(this.extents, pos);
    while (pos < end) {
      const e = this.extents[i];
      if (!e || e.dst > pos) {
        // Not written by any record: zeros up to the next extent.
        const to = Math.min(end, e ? e.dst : end);
        target.fill(0, targetOffset + (pos - position), targetOffset + (to - position));
        pos = to;
        continue;
      }
      const n = Math.min(end, e.dst + e.length) - pos;
      const got = await this.file.read(target, targetOffset + (pos - position), n, e.src + (pos - e.dst));
      if (got < n) return pos - position + got;
      pos += n;
      i++;
    }
    return Math.max(0, end - position);
  }

  close(): void {
    this.file.close();
  }
}

/**
 * Disjoint extents sorted by diskdump offset, a later record winning where
 * records overlap. makedumpfile's records never overlap except when it
 * rewrites its header; the general case walks the records newest first and
 * keeps only the parts not yet covered.
 */
function resolve(records: Extent[]): { extents: Extent[]; overwritten: number } {
  const sorted = [...records].sort((a, b) => a.dst - b.dst);
  if (sorted.every((e, i) => i === 0 || sorted[i - 1].dst + sorted[i - 1].length <= e.dst)) return { extents: sorted, overwritten: 0 };
  const covered: Extent[] = [];
  let overwritten = 0;
  for (let k = records.length - 1; k >= 0; k--) {
    const rec = records[k];
    let pos = rec.dst;
    const end = rec.dst + rec.length;
    let i = lowerBound(covered, pos);
    const pieces: Extent[] = [];
    while (pos < end) {
      const c = covered[i];
      if (!c || c.dst >= end) {
        pieces.push({ dst: pos, length: end - pos, src: rec.src + (pos - rec.dst) });
        break;
      }
      if (c.dst > pos) pieces.push({ dst: pos, length: c.dst - pos, src: rec.src + (pos - rec.dst) });
      overwritten += Math.min(end, c.dst + c.length) - Math.max(pos, c.dst);
      pos = Math.max(pos, c.dst + c.length);
      i++;
    }
    for (const p of pieces) covered.splice(lowerBound(covered, p.dst), 0, p);
  }
  return { extents: covered, overwritten };
}

/** Index of the extent holding `pos`, or of the first one after it. */
function lowerBound(ex: readonly Extent[], pos: number): number {
  return countAtOrBelow(ex.length, (i) => ex[i].dst + ex[i].length, pos);
}
