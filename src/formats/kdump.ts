/**
 * kdump-compressed ("diskdump") on-disk layouts, makedumpfile diskdump_mod.h
 * (formats.md section 6.1), x86-64 sizes, little-endian. Read and written by
 * the same field tables, so a layout cannot drift between the two.
 *
 * File: block 0 disk_dump_header; blocks 1..sub_hdr_size kdump_sub_header;
 * then bitmap_blocks blocks of bitmaps (1st half: pfns that exist, 2nd half:
 * pfns dumped); then one page_desc per set bit of the 2nd bitmap, in pfn
 * order; then page data.
 */

export const DISKDUMP_SIGNATURE = Buffer.from('KDUMP   ', 'latin1');

/** disk_dump_header.status and page_desc.flags bits. */
export const DUMP_DH_COMPRESSED_ZLIB = 0x1;
export const DUMP_DH_COMPRESSED_LZO = 0x2;
export const DUMP_DH_COMPRESSED_SNAPPY = 0x4;
/** status only: the dump stopped before every page was written (ENOSPC, interrupted). */
export const DUMP_DH_COMPRESSED_INCOMPLETE = 0x8;
/** status only: vmemmap pages were excluded (makedumpfile -e). */
export const DUMP_DH_EXCLUDED_VMEMMAP = 0x10;
export const DUMP_DH_COMPRESSED_ZSTD = 0x20;

/** The compression names of page_desc.flags bits. */
export const PAGE_COMPRESSION: readonly { flag: number; name: string }[] = [
  { flag: DUMP_DH_COMPRESSED_ZLIB, name: 'zlib' },
  { flag: DUMP_DH_COMPRESSED_LZO, name: 'lzo' },
  { flag: DUMP_DH_COMPRESSED_SNAPPY, name: 'snappy' },
  { flag: DUMP_DH_COMPRESSED_ZSTD, name: 'zstd' },
];

const UTS_FIELD = 65;
export const UTS_FIELDS = ['sysname', 'nodename', 'release', 'version', 'machine', 'domainname'] as const;
export type Utsname = Record<(typeof UTS_FIELDS)[number], string>;

type Kind = 'i32' | 'u32' | 'i64' | 'u64';
interface Field<K extends string> {
  name: K;
  at: number;
  kind: Kind;
}

function readField(b: Buffer, f: Field<string>): number {
  switch (f.kind) {
    case 'i32':
      return b.readInt32LE(f.at);
    case 'u32':
      return b.readUInt32LE(f.at);
    case 'i64':
      return clampToNumber(b.readBigInt64LE(f.at));
    case 'u64':
      return clampToNumber(b.readBigUInt64LE(f.at));
  }
}

function writeField(b: Buffer, f: Field<string>, v: number): void {
  switch (f.kind) {
    case 'i32':
      b.writeInt32LE(v, f.at);
      return;
    case 'u32':
      b.writeUInt32LE(v >>> 0, f.at);
      return;
    case 'i64':
      b.writeBigInt64LE(BigInt(v), f.at);
      return;
    case 'u64':
      b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), f.at);
  }
}

/** u64 values past 2^53 (a corrupt field) become a value no file offset or pfn can reach. */
function clampToNumber(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (v < -BigInt(Number.MAX_SAFE_INTEGER)) return -Number.MAX_SAFE_INTEGER;
  return Number(v);
}

// ---- disk_dump_header -------------------------------------------------

const HEADER_FIELDS = [
  { name: 'headerVersion', at: 0x08, kind: 'i32' },
  // utsname: 6 x 65 bytes at 0x0c; struct timeval (8-aligned) at 0x198.
  { name: 'timestampSec', at: 0x198, kind: 'i64' },
  { name: 'timestampUsec', at: 0x1a0, kind: 'i64' },
  { name: 'status', at: 0x1a8, kind: 'u32' },
  { name: 'blockSize', at: 0x1ac, kind: 'i32' },
  { name: 'subHdrSize', at: 0x1b0, kind: 'i32' },
  { name: 'bitmapBlocks', at: 0x1b4, kind: 'u32' },
  { name: 'maxMapnr', at: 0x1b8, kind: 'u32' },
  { name: 'totalRamBlocks', at: 0x1bc, kind: 'u32' },
  { name: 'deviceBlocks', at: 0x1c0, kind: 'u32' },
  { name: 'writtenBlocks', at: 0x1c4, kind: 'u32' },
  { name: 'currentCpu', at: 0x1c8, kind: 'u32' },
  { name: 'nrCpus', at: 0x1cc, kind: 'i32' },
] as const satisfies readonly Field<string>[];
const UTS_AT = 0x0c;
/** sizeof(struct disk_dump_header) on x86-64 (tasks[] is a flexible array). */
export const DISK_DUMP_HEADER_SIZE = 0x1d0;

export type DiskDumpHeader = Record<(typeof HEADER_FIELDS)[number]['name'], number> & { utsname: Utsname };

export function readDiskDumpHeader(b: Buffer): DiskDumpHeader {
  const h = {} as Record<string, number>;
  for (const f of HEADER_FIELDS) h[f.name] = readField(b, f);
  const utsname = {} as Utsname;
  UTS_FIELDS.forEach((name, i) => {
    const raw = b.subarray(UTS_AT + i * UTS_FIELD, UTS_AT + (i + 1) * UTS_FIELD);
    const nul = raw.indexOf(0);
    utsname[name] = raw.toString('latin1', 0, nul < 0 ? raw.length : nul);
  });
  return { ...(h as Omit<DiskDumpHeader, 'utsname'>), utsname };
}

/** The header block (`blockSize` bytes, signature included). */
export function writeDiskDumpHeader(h: DiskDumpHeader): Buffer {
  const b = Buffer.alloc(Math.max(h.blockSize, DISK_DUMP_HEADER_SIZE));
  DISKDUMP_SIGNATURE.copy(b, 0);
  for (const f of HEADER_FIELDS) writeField(b, f, h[f.name]);
  UTS_FIELDS.forEach((name, i) => b.write(h.utsname[name].slice(0, UTS_FIELD - 1), UTS_AT + i * UTS_FIELD, 'latin1'));
  return b;
}

// ---- kdump_sub_header ---------------------------------------------------

/** Fields by the header_version that introduced them. */
const SUB_HEADER_FIELDS = [
  { name: 'physBase', at: 0x00, kind: 'u64', since: 0 },
  { name: 'dumpLevel', at: 0x08, kind: 'i32', since: 1 },
  { name: 'split', at: 0x0c, kind: 'i32', since: 2 },
  { name: 'startPfn', at: 0x10, kind: 'u64', since: 2 },
  { name: 'endPfn', at: 0x18, kind: 'u64', since: 2 },
  { name: 'offsetVmcoreinfo', at: 0x20, kind: 'i64', since: 3 },
  { name: 'sizeVmcoreinfo', at: 0x28, kind: 'u64', since: 3 },
  { name: 'offsetNote', at: 0x30, kind: 'i64', since: 4 },
  { name: 'sizeNote', at: 0x38, kind: 'u64', since: 4 },
  { name: 'offsetEraseinfo', at: 0x40, kind: 'i64', since: 5 },
  { name: 'sizeEraseinfo', at: 0x48, kind: 'u64', since: 5 },
  { name: 'startPfn64', at: 0x50, kind: 'u64', since: 6 },
  { name: 'endPfn64', at: 0x58, kind: 'u64', since: 6 },
  { name: 'maxMapnr64', at: 0x60, kind: 'u64', since: 6 },
] as const;
export const KDUMP_SUB_HEADER_SIZE = 0x68;

/** Fields the header version does not have read as 0. */
export type KdumpSubHeader = Record<(typeof SUB_HEADER_FIELDS)[number]['name'], number>;

export function readKdumpSubHeader(b: Buffer, headerVersion: number): KdumpSubHeader {
  const s = {} as Record<string, number>;
  for (const f of SUB_HEADER_FIELDS) s[f.name] = f.since <= headerVersion && f.at + 8 <= b.length ? readField(b, f) : 0;
  return s as KdumpSubHeader;
}

export function writeKdumpSubHeader(s: KdumpSubHeader, headerVersion: number): Buffer {
  const b = Buffer.alloc(KDUMP_SUB_HEADER_SIZE);
  for (const f of SUB_HEADER_FIELDS) if (f.since <= headerVersion) writeField(b, f, s[f.name]);
  return b;
}

// ---- page_desc ------------------------------------------------------------

export const PAGE_DESC_SIZE = 24;

export interface PageDesc {
  /** File offset of the page's data. */
  offset: number;
  /** Bytes of data; == block_size and no compression flag: stored as is. */
  size: number;
  flags: number;
  /** The page's struct page flags (informational). */
  pageFlags: bigint;
}

export function readPageDesc(b: Buffer, at: number): PageDesc {
  return {
    offset: clampToNumber(b.readBigInt64LE(at)),
    size: b.readUInt32LE(at + 8),
    flags: b.readUInt32LE(at + 12),
    pageFlags: b.readBigUInt64LE(at + 16),
  };
}

export function writePageDesc(d: PageDesc, b: Buffer = Buffer.alloc(PAGE_DESC_SIZE), at = 0): Buffer {
  b.writeBigInt64LE(BigInt(d.offset), at);
  b.writeUInt32LE(d.size, at + 8);
  b.writeUInt32LE(d.flags, at + 12);
  b.writeBigUInt64LE(d.pageFlags, at + 16);
  return b;
}
