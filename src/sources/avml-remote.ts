import { hex, InputError } from '../errors';
import { BlockReader } from '../io/block-reader';
import { ByteSource, SourceIOError } from '../io/byte-source';
import { ChunkStore } from '../io/chunk-store';
import { AvmlOptions, indexRecordStream } from './avml';
import { AvmlRecordSpan, walkAvmlBackwards } from './avml-backwards';
import { avmlDecoder, AvmlChunkIndex, loadSnappy } from './avml-chunks';
import { avmlRangeNotes, avmlRanges } from './avml-ranges';
import type { ParsedImage } from './parsed';
import { countAtOrBelow } from '../types';

/**
 * An AVML v2 image that must not be read whole at mount (a remote object):
 * its records are found from the end (avml-backwards.ts) with small reads of
 * `probe`, and a record's Snappy chunks are indexed the first time a read
 * touches it, reading its stream once through `data` (whole blocks). The same
 * chunk store and decoder as a local AVML file serve the bytes.
 */
export async function parseAvmlRemote(probe: ByteSource, data: ByteSource, options: AvmlOptions): Promise<ParsedImage> {
  loadSnappy();
  const tail = await walkAvmlBackwards(probe);
  const { records, orphans } = tail;
  if (records.length === 0) throw new InputError(`${probe.label}: AVML image holds no memory data (${orphans.length} headers without payload)`);
  const rebuilt = avmlRanges([...records, ...orphans]);
  return {
    ranges: rebuilt.ranges,
    segments: records.map((r) => ({ phys: r.start, length: r.length, offset: r.start })),
    mapOrigin: 'AVML record headers',
    notes: [
      `AVML v2: ${records.length} records found from the end of the object (${tail.reads} small reads); ` +
        "a record's Snappy chunks are indexed when a read first touches it",
      ...avmlRangeNotes(records.length + orphans.length, rebuilt, orphans),
    ],
    bytes: new LazyAvmlStore(data, records, options.verify),
  };
}

/** Physical addresses (store position = address) of an AVML image whose records are indexed on first use. */
class LazyAvmlStore implements ByteSource {
  readonly size: number;
  readonly label: string;
  private readonly stores = new Map<number, Promise<ChunkStore>>();

  constructor(
    private readonly data: ByteSource,
    private readonly records: readonly AvmlRecordSpan[],
    private readonly verify: boolean,
  ) {
    const last = records[records.length - 1];
    this.size = last.start + last.length;
    this.label = data.label;
  }

  async read(target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number> {
    const end = Math.min(this.size, position + length);
    let pos = position;
    while (pos < end) {
      const i = this.recordAt(pos);
      if (i < 0) throw new SourceIOError(`${this.label}: no AVML record holds physical address ${hex(pos)}`);
      const rec = this.records[i];
      const n = Math.min(end, rec.start + rec.length) - pos;
      const store = await this.store(i);
      const got = await store.read(target, targetOffset + (pos - position), n, pos);
      if (got < n) throw new SourceIOError(`${this.label}: AVML record at file offset ${hex(rec.fileOffset)} ends early`);
      pos += n;
    }
    return Math.max(0, end - position);
  }

  private recordAt(pos: number): number {
    const i = countAtOrBelow(this.records.length, (k) => this.records[k].start, pos) - 1;
    const r = this.records[i];
    return r && pos < r.start + r.length ? i : -1;
  }

  /** Record i's chunk store, indexing its stream on first use (a failed index is tried again by the next read). */
  private store(i: number): Promise<ChunkStore> {
    let p = this.stores.get(i);
    if (!p) {
      p = this.index(this.records[i]);
      this.stores.set(i, p);
      p.catch(() => this.stores.delete(i));
    }
    return p;
  }

  private async index(rec: AvmlRecordSpan): Promise<ChunkStore> {
    const fail = (what: string): never => {
      throw new SourceIOError(`${this.label}: ${what}`);
    };
    // One window over the whole stream: a single read, whole blocks fetched in parallel.
    const r = new BlockReader(this.data, rec.streamLength + 64);
    const chunks = new AvmlChunkIndex();
    const { end } = await indexRecordStream(r, fail, rec, chunks);
    if (end !== rec.streamOffset + rec.streamLength) {
      fail(
        `AVML record at file offset ${hex(rec.fileOffset)}: its trailer says the Snappy stream is ${rec.streamLength} bytes, it is ${end - rec.streamOffset}`,
      );
    }
    return new ChunkStore(this.label, chunks, avmlDecoder(this.data, chunks, this.verify));
  }

  close(): void {
    for (const p of this.stores.values())
      p.then(
        (s) => s.close(),
        () => {},
      );
  }
}
