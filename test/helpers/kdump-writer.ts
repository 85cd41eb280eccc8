/**
 * Independent writer of kdump-compressed dumps and their flattened form, for
 * what Debian's makedumpfile cannot make (snappy, zstd, mixed codecs, stored
 * pages, incomplete dumps, overlapping flattened records). Written from
 * makedumpfile's diskdump_mod.h as formats.md section 6 lays it out, not from
 * src/ (nothing here imports it). Compressors: node's zlib, the snappy
 * package, the zstd command-line tool.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

export type PageCodec = 'zlib' | 'lzo' | 'snappy' | 'zstd' | 'stored';
const FLAG: Record<PageCodec, number> = { zlib: 0x1, lzo: 0x2, snappy: 0x4, zstd: 0x20, stored: 0 };

export interface KdumpSpec {
  blockSize?: number;
  maxMapnr: number;
  /** Pfns in the 1st bitmap (they exist). */
  present: (pfn: number) => boolean;
  /** Present pfns left out of the 2nd bitmap (excluded by the dump level). */
  excluded?: (pfn: number) => boolean;
  /** Bytes of a dumped page. */
  page: (pfn: number) => Buffer;
  codec: (pfn: number) => PageCodec;
  /** Bytes for lzo pages (this writer has no LZO compressor): pfn -> compressed page. */
  lzoPages?: Map<number, Buffer>;
  vmcoreinfo?: string;
  dumpLevel?: number;
  /** Marks the header incomplete (status 0x8) and leaves descriptors from this index on zero, data not written. */
  stopAfter?: number;
  /** All-zero pages share one stored copy (as makedumpfile does). */
  shareZeroPages?: boolean;
  timestamp?: number;
}

const UTS = ['Linux', 'writer-host', '6.1.0-test', '#1 SMP', 'x86_64', '(none)'];

function zstdCompress(pages: Buffer[]): Buffer[] {
  if (pages.length === 0) return [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kdump-zstd-'));
  try {
    const files = pages.map((p, i) => {
      const f = path.join(dir, `p${i}`);
      fs.writeFileSync(f, p);
      return f;
    });
    execFileSync('zstd', ['-q', '-f', '-3', ...files], { stdio: 'ignore' });
    return files.map((f) => fs.readFileSync(f + '.zst'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function compress(codec: PageCodec, page: Buffer): Buffer {
  if (codec === 'zlib') return zlib.deflateSync(page);
  if (codec === 'snappy') return (require('snappy') as typeof import('snappy')).compressSync(page);
  return page;
}

/** One Elf64 note: namesz, descsz, type, name NUL-padded to 4, desc padded to 4. */
function elfNote(name: string, type: number, desc: Buffer): Buffer {
  const up4 = (n: number) => Math.ceil(n / 4) * 4;
  const b = Buffer.alloc(12 + up4(name.length + 1) + up4(desc.length));
  b.writeUInt32LE(name.length + 1, 0);
  b.writeUInt32LE(desc.length, 4);
  b.writeUInt32LE(type, 8);
  b.write(name, 12, 'latin1');
  desc.copy(b, 12 + up4(name.length + 1));
  return b;
}

/** The diskdump file. */
export function writeKdump(spec: KdumpSpec): Buffer {
  const bs = spec.blockSize ?? 4096;
  const n = spec.maxMapnr;
  const mapBytes = Math.ceil(n / 8);
  const bitmapBlocks = 2 * Math.max(1, Math.ceil(mapBytes / bs));
  const half = (bitmapBlocks / 2) * bs;
  const bitmap = Buffer.alloc(bitmapBlocks * bs);
  const dumped: number[] = [];
  for (let pfn = 0; pfn < n; pfn++) {
    if (!spec.present(pfn)) continue;
    bitmap[pfn >> 3] |= 1 << (pfn & 7);
    if (spec.excluded?.(pfn)) continue;
    bitmap[half + (pfn >> 3)] |= 1 << (pfn & 7);
    dumped.push(pfn);
  }
  const vmcoreinfo = Buffer.from(spec.vmcoreinfo ?? '', 'latin1');
  // The kernel's ELF notes as makedumpfile copies them: libkdumpfile takes VMCOREINFO from its note.
  const notes = vmcoreinfo.length ? elfNote('VMCOREINFO', 0, vmcoreinfo) : Buffer.alloc(0);
  const subHdrBlocks = Math.ceil((0x68 + notes.length + vmcoreinfo.length) / bs);
  const descStart = (1 + subHdrBlocks + bitmapBlocks) * bs;
  let dataAt = descStart + dumped.length * 24;

  // Page data (zstd pages compressed in one run of the tool).
  const zstdPfns = dumped.filter((p) => spec.codec(p) === 'zstd');
  const zstdData = new Map(zstdCompress(zstdPfns.map((p) => spec.page(p))).map((c, i) => [zstdPfns[i], c]));
  const descs = Buffer.alloc(dumped.length * 24);
  const data: Buffer[] = [];
  let zeroAt = -1;
  let codecsUsed = 0;
  dumped.forEach((pfn, i) => {
    if (spec.stopAfter !== undefined && i >= spec.stopAfter) return;
    const page = spec.page(pfn);
    let offset: number;
    let size: number;
    let flags: number;
    if (spec.shareZeroPages && page.every((b) => b === 0) && zeroAt >= 0) {
      [offset, size, flags] = [zeroAt, bs, 0];
    } else {
      const zero = !!spec.shareZeroPages && page.every((b) => b === 0);
      let codec: PageCodec = zero ? 'stored' : spec.codec(pfn); // the shared zero page is stored whole
      let bytes = codec === 'zstd' ? zstdData.get(pfn)! : codec === 'lzo' ? spec.lzoPages!.get(pfn)! : compress(codec, page);
      if (bytes.length >= bs) [codec, bytes] = ['stored', page]; // as makedumpfile: no gain, stored
      [offset, size, flags] = [dataAt, bytes.length, FLAG[codec]];
      if (zero) zeroAt = dataAt;
      data.push(bytes);
      dataAt += bytes.length;
      codecsUsed |= flags;
    }
    descs.writeBigInt64LE(BigInt(offset), i * 24);
    descs.writeUInt32LE(size, i * 24 + 8);
    descs.writeUInt32LE(flags, i * 24 + 12);
  });

  const header = Buffer.alloc(bs);
  header.write('KDUMP   ', 0, 'latin1');
  header.writeInt32LE(6, 0x08);
  UTS.forEach((f, i) => header.write(f, 0x0c + i * 65, 'latin1'));
  header.writeBigInt64LE(BigInt(spec.timestamp ?? 1700000000), 0x198);
  header.writeUInt32LE(codecsUsed | (spec.stopAfter !== undefined ? 0x8 : 0), 0x1a8);
  header.writeInt32LE(bs, 0x1ac);
  header.writeInt32LE(subHdrBlocks, 0x1b0);
  header.writeUInt32LE(bitmapBlocks, 0x1b4);
  header.writeUInt32LE(Math.min(n, 0xffffffff), 0x1b8);
  header.writeInt32LE(1, 0x1cc);

  const sub = Buffer.alloc(subHdrBlocks * bs);
  sub.writeInt32LE(spec.dumpLevel ?? 0, 0x08);
  if (vmcoreinfo.length) {
    sub.writeBigInt64LE(BigInt(bs + 0x68), 0x30);
    sub.writeBigUInt64LE(BigInt(notes.length), 0x38);
    notes.copy(sub, 0x68);
    sub.writeBigInt64LE(BigInt(bs + 0x68 + notes.length), 0x20);
    sub.writeBigUInt64LE(BigInt(vmcoreinfo.length), 0x28);
    vmcoreinfo.copy(sub, 0x68 + notes.length);
  }
  sub.writeBigUInt64LE(BigInt(n), 0x60);
  return Buffer.concat([header, sub, bitmap, descs, ...data]);
}

export interface FlattenOptions {
  /** Bytes per record (the last of each run shorter). */
  recordBytes?: number;
  /** Writes the records in this order of their indexes (default: as they come). */
  order?: (count: number) => number[];
  /** Extra records written after the others: bytes put over earlier ones (a later record wins). */
  overwrites?: { offset: number; bytes: Buffer }[];
  /** Leave out the end marker (a stream cut short). */
  noEnd?: boolean;
}

/** The flattened form (makedumpfile -F) of a diskdump file. */
export function flatten(diskdump: Buffer, opts: FlattenOptions = {}): Buffer {
  const header = Buffer.alloc(4096);
  header.write('makedumpfile', 0, 'latin1');
  header.writeBigInt64BE(1n, 16);
  header.writeBigInt64BE(1n, 24);
  const step = opts.recordBytes ?? 65536;
  const pieces: { offset: number; bytes: Buffer }[] = [];
  for (let at = 0; at < diskdump.length; at += step) pieces.push({ offset: at, bytes: diskdump.subarray(at, at + step) });
  const order = opts.order ? opts.order(pieces.length) : pieces.map((_, i) => i);
  const records = [...order.map((i) => pieces[i]), ...(opts.overwrites ?? [])];
  const out: Buffer[] = [header];
  for (const r of records) {
    const h = Buffer.alloc(16);
    h.writeBigInt64BE(BigInt(r.offset), 0);
    h.writeBigInt64BE(BigInt(r.bytes.length), 8);
    out.push(h, r.bytes);
  }
  if (!opts.noEnd) {
    const end = Buffer.alloc(16);
    end.writeBigInt64BE(-1n, 0);
    end.writeBigInt64BE(-1n, 8);
    out.push(end);
  }
  return Buffer.concat(out);
}
