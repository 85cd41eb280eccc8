import { Codec, decodeBlock } from '../codecs/page-codecs';
import { hex, InputError } from '../errors';
import {
  DISK_DUMP_HEADER_SIZE,
  DISKDUMP_SIGNATURE,
  DiskDumpHeader,
  DUMP_DH_COMPRESSED_INCOMPLETE,
  DUMP_DH_COMPRESSED_LZO,
  DUMP_DH_COMPRESSED_SNAPPY,
  DUMP_DH_COMPRESSED_ZLIB,
  DUMP_DH_COMPRESSED_ZSTD,
  DUMP_DH_EXCLUDED_VMEMMAP,
  KDUMP_SUB_HEADER_SIZE,
  KdumpSubHeader,
  PAGE_COMPRESSION,
  PAGE_DESC_SIZE,
  readDiskDumpHeader,
  readKdumpSubHeader,
  readPageDesc,
} from '../formats/kdump';
import { ByteSource, readAt, SourceIOError } from '../io/byte-source';
import { ChunkIndex, ChunkStore, perChunk } from '../io/chunk-store';
import { FLAT_SIGNATURE } from '../formats/flattened';
import { RamRange } from '../types';
import { FlattenedSource } from './flattened';
import type { ParsedImage } from './parsed';

/**
 * kdump-compressed ("diskdump", makedumpfile's default output; formats.md
 * section 6.1) read in place. At open: the header, the sub-header (VMCOREINFO,
 * dump level), both bitmaps, and a prefix popcount of the 2nd bitmap per chunk
 * of CHUNK_PAGES pfns, so a chunk's page descriptors are found in O(1). Page
 * descriptors and data are read only when a read touches their chunk.
 */
export const CHUNK_PAGES = 64;

/** A u32 of page count per chunk suffices below 16 TiB of 4 KiB pages; larger bitmaps are refused. */
const MAX_PFNS = 2 ** 32;
/** VMCOREINFO and the ELF notes are a few KiB; more is a corrupt size. */
const MAX_SUB_HEADER_TEXT = 1 << 20;

export interface KdumpIndex {
  header: DiskDumpHeader;
  sub: KdumpSubHeader | null;
  blockSize: number;
  maxMapnr: number;
  /** Pfns that exist (1st bitmap) and were dumped (2nd bitmap), bit pfn%8 of byte pfn/8. */
  present: Buffer;
  dumped: Buffer;
  /** rank[c]: dumped pages with pfn below c * CHUNK_PAGES (the index of chunk c's first page descriptor). */
  rank: Uint32Array;
  /** File offset of the first page descriptor, and the end of the descriptor table. */
  descStart: number;
  descEnd: number;
  /** Runs of present pfns, as physical ranges. */
  ranges: RamRange[];
  presentPages: number;
  dumpedPages: number;
  /** Pages present but not dumped: excluded by the dump level, served as zeros. */
  excludedPages: number;
  /** Pages dumped that the 1st bitmap does not list (not in ranges, so never read). */
  dumpedOutsideRam: number;
  incomplete: boolean;
  /** Pages of an incomplete dump that have no data (zero descriptor or one past the end of the file). */
  missingPages: number;
  vmcoreinfo: string | null;
  /** Per-CPU register notes (NT_PRSTATUS) in the sub-header's ELF notes. */
  cpuNotes: number;
}

const POPCOUNT = new Uint8Array(256);
for (let i = 1; i < 256; i++) POPCOUNT[i] = POPCOUNT[i >> 1] + (i & 1);

export function isKdumpCompressed(head: Buffer): boolean {
  return head.length >= 8 && head.subarray(0, 8).equals(DISKDUMP_SIGNATURE);
}

/** Reads the header, sub-header and bitmaps; `source` is the diskdump file (or a flattened file's view of one). */
export async function readKdumpIndex(source: ByteSource): Promise<KdumpIndex> {
  const name = source.label;
  const fail = (what: string): never => {
    throw new InputError(`${name}: ${what}`);
  };
  const head = await readAt(source, 0, DISK_DUMP_HEADER_SIZE);
  if (head.length < 8 || !isKdumpCompressed(head)) {
    if (head.subarray(0, 8).toString('latin1') === 'DISKDUMP')
      fail('a DISKDUMP (kernel diskdump module) image: memview reads makedumpfile\'s "KDUMP" format only');
    fail('no "KDUMP   " signature at file offset 0x0');
  }
  if (head.length < DISK_DUMP_HEADER_SIZE) fail(`truncated kdump header: ${head.length} of ${DISK_DUMP_HEADER_SIZE} bytes`);
  const header = readDiskDumpHeader(head);
  const bs = header.blockSize;
  if (!(bs >= DISK_DUMP_HEADER_SIZE && bs <= 1 << 20 && (bs & (bs - 1)) === 0)) {
    fail(`kdump block_size ${bs} at file offset 0x1ac is not a power of two between 512 and 1 MiB`);
  }
  if (header.headerVersion < 0) fail(`kdump header_version ${header.headerVersion} at file offset 0x8 is negative`);
  if (header.subHdrSize < 0) fail(`kdump sub_hdr_size ${header.subHdrSize} at file offset 0x1b0 is negative`);
  if (header.bitmapBlocks === 0) fail('kdump bitmap_blocks at file offset 0x1b4 is 0: no bitmaps');

  let sub: KdumpSubHeader | null = null;
  if (header.subHdrSize > 0) {
    const b = await readAt(source, bs, KDUMP_SUB_HEADER_SIZE);
    if (b.length < KDUMP_SUB_HEADER_SIZE) fail(`kdump sub-header at file offset ${hex(bs)} is past the end of the file (${source.size} bytes)`);
    sub = readKdumpSubHeader(b, header.headerVersion);
  }
  const maxMapnr = header.headerVersion >= 6 && sub ? sub.maxMapnr64 : header.maxMapnr;

  const bitmapAt = (1 + header.subHdrSize) * bs;
  const bitmapBytes = header.bitmapBlocks * bs;
  const half = bitmapBytes / 2;
  if (bitmapAt + bitmapBytes > source.size) {
    fail(
      `kdump bitmaps (${header.bitmapBlocks} blocks at file offset ${hex(bitmapAt)}) end at ${hex(bitmapAt + bitmapBytes)}, past the end of the file (${hex(source.size)} bytes)`,
    );
  }
  if (maxMapnr > half * 8) fail(`kdump max_mapnr ${maxMapnr} is more pfns than the bitmap holds (${half * 8})`);
  if (maxMapnr > MAX_PFNS) fail(`kdump max_mapnr ${maxMapnr} is beyond what memview reads (${MAX_PFNS} pages)`);
  const mapBytes = Math.ceil(maxMapnr / 8);
  const present = Buffer.alloc(mapBytes);
  const dumped = Buffer.alloc(mapBytes);
  await readExact(source, present, bitmapAt, 'the 1st bitmap');
  await readExact(source, dumped, bitmapAt + half, 'the 2nd bitmap');
  clearTail(present, maxMapnr);
  clearTail(dumped, maxMapnr);

  const chunks = Math.ceil(maxMapnr / CHUNK_PAGES);
  const rank = new Uint32Array(chunks + 1);
  let dumpedPages = 0;
  let presentPages = 0;
  let excludedPages = 0;
  let dumpedOutsideRam = 0;
  const bytesPerChunk = CHUNK_PAGES / 8;
  for (let c = 0; c < chunks; c++) {
    rank[c] = dumpedPages;
    const end = Math.min(mapBytes, (c + 1) * bytesPerChunk);
    for (let i = c * bytesPerChunk; i < end; i++) {
      const p = present[i];
      const d = dumped[i];
      dumpedPages += POPCOUNT[d];
      presentPages += POPCOUNT[p];
      excludedPages += POPCOUNT[p & ~d & 0xff];
      dumpedOutsideRam += POPCOUNT[d & ~p & 0xff];
    }
  }
  rank[chunks] = dumpedPages;
  const descStart = (1 + header.subHdrSize + header.bitmapBlocks) * bs;
  const descEnd = descStart + dumpedPages * PAGE_DESC_SIZE;
  const incomplete = (header.status & DUMP_DH_COMPRESSED_INCOMPLETE) !== 0;
  if (descEnd > source.size && !incomplete) {
    fail(
      `kdump page descriptors (${dumpedPages} of ${PAGE_DESC_SIZE} bytes at file offset ${hex(descStart)}) end at ${hex(descEnd)}, past the end of the file (${hex(source.size)} bytes)`,
    );
  }

  const index: KdumpIndex = {
    header,
    sub,
    blockSize: bs,
    maxMapnr,
    present,
    dumped,
    rank,
    descStart,
    descEnd,
    ranges: pfnRuns(present, maxMapnr, bs),
    presentPages,
    dumpedPages,
    excludedPages,
    dumpedOutsideRam,
    incomplete,
    missingPages: 0,
    vmcoreinfo: null,
    cpuNotes: 0,
  };
  if (sub && sub.sizeVmcoreinfo > 0)
    index.vmcoreinfo = (await subHeaderBlob(source, sub.offsetVmcoreinfo, sub.sizeVmcoreinfo, 'VMCOREINFO')).toString('latin1');
  if (sub && sub.sizeNote > 0) index.cpuNotes = countPrstatus(await subHeaderBlob(source, sub.offsetNote, sub.sizeNote, 'ELF notes'));
  if (incomplete) index.missingPages = await countMissing(source, index);
  return index;
}

async function readExact(source: ByteSource, target: Buffer, at: number, what: string): Promise<void> {
  const n = target.length === 0 ? 0 : await source.read(target, 0, target.length, at);
  if (n < target.length) throw new InputError(`${source.label}: ${what} at file offset ${hex(at)} is cut short by the end of the file`);
}

/** Bits at and past `bits` are not pfns of this dump. */
function clearTail(map: Buffer, bits: number): void {
  if (bits % 8 !== 0) map[map.length - 1] &= (1 << (bits % 8)) - 1;
}

async function subHeaderBlob(source: ByteSource, offset: number, size: number, what: string): Promise<Buffer> {
  if (size > MAX_SUB_HEADER_TEXT) throw new InputError(`${source.label}: kdump sub-header ${what} size ${size} is larger than any kernel writes`);
  if (offset <= 0 || offset + size > source.size) {
    throw new InputError(
      `${source.label}: kdump sub-header ${what} (${size} bytes at file offset ${hex(offset)}) is past the end of the file (${hex(source.size)} bytes)`,
    );
  }
  return readAt(source, offset, size);
}

/** Elf64_Nhdr records named CORE of type NT_PRSTATUS (1): one per CPU. */
function countPrstatus(notes: Buffer): number {
  const pad4 = (n: number) => Math.ceil(n / 4) * 4;
  let count = 0;
  for (let at = 0; at + 12 <= notes.length;) {
    const namesz = notes.readUInt32LE(at);
    const descsz = notes.readUInt32LE(at + 4);
    const type = notes.readUInt32LE(at + 8);
    if (notes.toString('latin1', at + 12, at + 12 + namesz).replace(/\0+$/, '') === 'CORE' && type === 1) count++;
    at += 12 + pad4(namesz) + pad4(descsz);
  }
  return count;
}

/** Runs of set bits below `maxMapnr`, as physical byte ranges. */
function pfnRuns(map: Buffer, maxMapnr: number, blockSize: number): RamRange[] {
  const runs: RamRange[] = [];
  let runStart = -1;
  for (let i = 0; i < map.length; i++) {
    const b = map[i];
    if (b === 0xff && runStart >= 0) continue;
    if (b === 0 && runStart < 0) continue;
    for (let bit = 0; bit < 8; bit++) {
      const pfn = i * 8 + bit;
      if (pfn >= maxMapnr) break;
      const set = (b >> bit) & 1;
      if (set && runStart < 0) runStart = pfn;
      else if (!set && runStart >= 0) {
        runs.push({ start: runStart * blockSize, length: (pfn - runStart) * blockSize });
        runStart = -1;
      }
    }
  }
  if (runStart >= 0) runs.push({ start: runStart * blockSize, length: (maxMapnr - runStart) * blockSize });
  return runs;
}

/** An incomplete dump's pages whose descriptor is zero or past the end of the file (read 1 MiB of descriptors at a time). */
async function countMissing(source: ByteSource, index: KdumpIndex): Promise<number> {
  let missing = Math.max(0, Math.ceil((index.descEnd - Math.max(index.descStart, source.size)) / PAGE_DESC_SIZE));
  const step = PAGE_DESC_SIZE * 43690;
  const end = Math.min(index.descEnd, source.size - ((source.size - index.descStart) % PAGE_DESC_SIZE));
  for (let at = index.descStart; at < end; at += step) {
    const b = await readAt(source, at, Math.min(step, end - at));
    for (let o = 0; o + PAGE_DESC_SIZE <= b.length; o += PAGE_DESC_SIZE) {
      const d = readPageDesc(b, o);
      if (d.offset === 0 || d.offset + d.size > source.size) missing++;
    }
  }
  return missing;
}

// ---- page data ---------------------------------------------------------------

const FLAG_CODEC: readonly [number, Codec][] = [
  [DUMP_DH_COMPRESSED_ZLIB, 'zlib'],
  [DUMP_DH_COMPRESSED_LZO, 'lzo'],
  [DUMP_DH_COMPRESSED_SNAPPY, 'snappy'],
  [DUMP_DH_COMPRESSED_ZSTD, 'zstd'],
];
const KNOWN_FLAGS = FLAG_CODEC.reduce((m, [f]) => m | f, 0);
/** Page data runs closer than this are fetched in one read. */
const COALESCE_GAP = 64 * 1024;

/**
 * Decodes chunk c (pfns c*CHUNK_PAGES .. +CHUNK_PAGES) of a kdump-compressed
 * dump: one read for its page descriptors, one per run of nearby page data,
 * then each page decompressed into place. Pages not dumped are zeros. A bad
 * descriptor or page fails with SourceIOError naming the file offset.
 */
export async function decodeKdumpChunk(source: ByteSource, index: KdumpIndex, c: number): Promise<Buffer> {
  const bs = index.blockSize;
  const firstPfn = c * CHUNK_PAGES;
  const pages = Math.min(CHUNK_PAGES, index.maxMapnr - firstPfn);
  const out = Buffer.alloc(Math.max(0, pages) * bs);
  const first = index.rank[c];
  const count = index.rank[c + 1] - first;
  if (count === 0) return out;
  const fail = (what: string) => new SourceIOError(`${source.label}: ${what}`);
  const descAt = index.descStart + first * PAGE_DESC_SIZE;
  const descs = await readAt(source, descAt, count * PAGE_DESC_SIZE);

  interface Page {
    slot: number;
    descAt: number;
    offset: number;
    size: number;
    codec: Codec | null;
  }
  const todo: Page[] = [];
  let k = 0;
  for (let slot = 0; slot < pages; slot++) {
    const pfn = firstPfn + slot;
    if (!((index.dumped[pfn >> 3] >> (pfn & 7)) & 1)) continue;
    const at = descAt + k * PAGE_DESC_SIZE;
    if ((k + 1) * PAGE_DESC_SIZE > descs.length) {
      if (index.incomplete) break; // the dump stopped before this descriptor: zeros
      throw fail(`page descriptor for pfn ${hex(pfn)} at file offset ${hex(at)} is past the end of the file (truncated)`);
    }
    const d = readPageDesc(descs, k * PAGE_DESC_SIZE);
    k++;
    if (index.incomplete && (d.offset === 0 || d.offset + d.size > source.size)) continue;
    const compression = d.flags & KNOWN_FLAGS;
    const codecs = FLAG_CODEC.filter(([f]) => compression & f);
    if (
      d.offset < index.descEnd ||
      d.size === 0 ||
      d.size > bs ||
      codecs.length > 1 ||
      (codecs.length === 0 && d.size !== bs) ||
      (d.flags & ~KNOWN_FLAGS) !== 0
    ) {
      throw fail(
        `bad page descriptor for pfn ${hex(pfn)} at file offset ${hex(at)}: data offset ${hex(d.offset)}, size ${d.size}, flags ${hex(d.flags)} (block size ${bs}, data starts at ${hex(index.descEnd)})`,
      );
    }
    if (d.offset + d.size > source.size) {
      throw fail(
        `truncated page data for pfn ${hex(pfn)}: ${d.size} bytes at file offset ${hex(d.offset)} (descriptor at ${hex(at)}) run past the end of the file (${hex(source.size)} bytes)`,
      );
    }
    todo.push({ slot, descAt: at, offset: d.offset, size: d.size, codec: codecs.length ? codecs[0][1] : null });
  }
  // Read runs of nearby data (makedumpfile writes a chunk's pages back to back; zero pages share one copy).
  const byOffset = [...todo].sort((a, b) => a.offset - b.offset);
  for (let i = 0; i < byOffset.length;) {
    let j = i;
    let runEnd = byOffset[i].offset + byOffset[i].size;
    while (j + 1 < byOffset.length && byOffset[j + 1].offset <= runEnd + COALESCE_GAP) {
      j++;
      runEnd = Math.max(runEnd, byOffset[j].offset + byOffset[j].size);
    }
    const runStart = byOffset[i].offset;
    const data = await readAt(source, runStart, runEnd - runStart);
    if (data.length < runEnd - runStart) throw fail(`page data at file offset ${hex(runStart + data.length)} is cut short (truncated while mounted?)`);
    for (let p = i; p <= j; p++) {
      const pg = byOffset[p];
      const bytes = data.subarray(pg.offset - runStart, pg.offset - runStart + pg.size);
      const target = out.subarray(pg.slot * bs, (pg.slot + 1) * bs);
      if (!pg.codec) {
        bytes.copy(target);
        continue;
      }
      try {
        decodeBlock(pg.codec, bytes, target);
      } catch (e) {
        throw fail(`page of pfn ${hex(firstPfn + pg.slot)} at file offset ${hex(pg.offset)} (descriptor at ${hex(pg.descAt)}): ${(e as Error).message}`);
      }
    }
    i = j + 1;
  }
  return out;
}

// ---- info ----------------------------------------------------------------------

const DUMP_LEVEL_BITS = ['zero', 'cache', 'cache private', 'user', 'free'];

/** What `memview info` says about a kdump-compressed dump. */
export function kdumpNotes(index: KdumpIndex, flattened?: { records: number; overwritten: number }): string[] {
  const h = index.header;
  const u = h.utsname;
  const codecs = PAGE_COMPRESSION.filter((c) => h.status & c.flag).map((c) => c.name);
  const notes = [
    `kdump-compressed (makedumpfile diskdump) header version ${h.headerVersion}, block size ${index.blockSize}, ` +
      `${codecs.length ? codecs.join('+') : 'uncompressed'} pages` +
      // QEMU leaves the utsname empty but for the machine: name only what is there.
      ([u.sysname, u.release, u.machine].some(Boolean) ? `; ${[u.sysname, u.release, u.machine].filter(Boolean).join(' ')}` : '') +
      (u.nodename ? ` on ${u.nodename}` : '') +
      (h.timestampSec > 0 ? `, dumped ${new Date(h.timestampSec * 1000).toISOString()}` : ''),
  ];
  if (flattened) {
    notes.push(
      `flattened form (makedumpfile -F): ${flattened.records} records indexed, read in place (no makedumpfile -R copy)` +
        (flattened.overwritten ? `; ${flattened.overwritten} bytes rewritten by later records (the later ones are served)` : ''),
    );
  }
  notes.push(`RAM ranges: runs of the ${index.presentPages} pfns in the 1st bitmap (max_mapnr ${index.maxMapnr}); ${index.dumpedPages} pages dumped`);
  if (index.sub && index.header.headerVersion >= 1) {
    const level = index.sub.dumpLevel;
    const what = DUMP_LEVEL_BITS.filter((_, i) => level & (1 << i));
    notes.push(`dump level ${level}${what.length ? ` (excludes ${what.join(', ')} pages)` : ''}`);
  }
  if (index.excludedPages > 0) {
    notes.push(`${index.excludedPages} pages (${index.excludedPages * index.blockSize} bytes) excluded by the dump level: not in the dump, served as zeros`);
  }
  if (index.dumpedOutsideRam > 0)
    notes.push(`${index.dumpedOutsideRam} pages in the 2nd bitmap are not in the 1st (not RAM by the dump's own map); not served`);
  if (index.incomplete) {
    notes.push(
      `header status ${hex(h.status)}: the dump is INCOMPLETE (makedumpfile stopped before writing every page); ${index.missingPages} dumped pages have no data and read as zeros`,
    );
  }
  if (h.status & DUMP_DH_EXCLUDED_VMEMMAP) notes.push('header status 0x10: vmemmap pages were excluded (makedumpfile -e)');
  if (index.sub?.split)
    notes.push(
      `split dump (makedumpfile --split): this file holds pfns ${hex(index.sub.startPfn64 || index.sub.startPfn)}-${hex(index.sub.endPfn64 || index.sub.endPfn)} only`,
    );
  if (index.vmcoreinfo !== null) notes.push(`VMCOREINFO in the sub-header (${index.vmcoreinfo.length} bytes)`);
  if (index.cpuNotes > 0) notes.push(`${index.cpuNotes} CPU register notes (NT_PRSTATUS) in the sub-header`);
  return notes;
}

/** Is this a flattened (makedumpfile -F) file? Its 16-byte signature field starts "makedumpfile". */
export function isFlattened(head: Buffer): boolean {
  return head.length >= FLAT_SIGNATURE.length && head.subarray(0, FLAT_SIGNATURE.length).equals(FLAT_SIGNATURE);
}

/**
 * A kdump-compressed dump, plain or flattened: RAM ranges from the 1st
 * bitmap, every range served by a chunk store whose chunks are CHUNK_PAGES
 * pfns decoded on demand (store offset = physical address).
 */
export async function parseKdump(image: ByteSource): Promise<ParsedImage> {
  const head = await readAt(image, 0, 16);
  const flat = isFlattened(head) ? await FlattenedSource.open(image) : undefined;
  const dump = flat ?? image;
  const index = await readKdumpIndex(dump);
  if (index.ranges.length === 0) throw new InputError(`${image.label}: the kdump dump's 1st bitmap lists no pages`);
  const chunks = new ChunkIndex();
  const chunkNumber: number[] = [];
  const chunkBytes = CHUNK_PAGES * index.blockSize;
  let lastChunk = -1;
  for (const r of index.ranges) {
    for (let c = Math.max(lastChunk + 1, Math.floor(r.start / chunkBytes)); c * chunkBytes < r.start + r.length; c++) {
      const pages = Math.min(CHUNK_PAGES, index.maxMapnr - c * CHUNK_PAGES);
      chunks.add(c * chunkBytes, pages * index.blockSize);
      chunkNumber.push(c);
      lastChunk = c;
    }
  }
  return {
    ranges: index.ranges,
    segments: index.ranges.map((r) => ({ phys: r.start, length: r.length, offset: r.start })),
    mapOrigin: 'the kdump 1st bitmap (pfns present)',
    notes: kdumpNotes(index, flat),
    bytes: new ChunkStore(
      image.label,
      chunks,
      perChunk((i) => decodeKdumpChunk(dump, index, chunkNumber[i])),
    ),
    ...(index.vmcoreinfo !== null ? { vmcoreinfo: { text: index.vmcoreinfo, origin: 'the kdump sub-header' } } : {}),
  };
}
