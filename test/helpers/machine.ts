/**
 * Test fixture writer and independent reference writers. Nothing here imports
 * from src/: expected bytes are built from the format descriptions in
 * shared/reference/formats.md, not from memview's own views.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Range {
  start: number;
  /** inclusive, as /proc/iomem prints it */
  end: number;
}

/** A piece of an expected file: literal bytes, or a run of zeros. */
export type Chunk = Buffer | { zeros: number };

/**
 * RAM content that encodes its own physical address: every 8-byte word at
 * physical address A holds A (u64 LE) xor a per-machine salt. A shifted,
 * misplaced or zero-filled byte is visible.
 */
export function ramBytes(start: number, length: number, salt = 0): Buffer {
  const first = start - (start % 8);
  const words = Math.ceil((start + length - first) / 8);
  const buf = Buffer.alloc(words * 8);
  // u64 LE as two u32 halves through a typed array (hosts are little-endian): as exact as
  // BigInt writes and fast enough for GiB-sized bench machines.
  const u32 = new Uint32Array(buf.buffer, buf.byteOffset, words * 2);
  const saltLo = salt % 2 ** 32;
  const saltHi = Math.floor(salt / 2 ** 32);
  let lo = first % 2 ** 32;
  let hi = Math.floor(first / 2 ** 32);
  for (let i = 0; i < words * 2; i += 2) {
    u32[i] = lo ^ saltLo;
    u32[i + 1] = hi ^ saltHi;
    lo += 8;
    if (lo === 2 ** 32) {
      lo = 0;
      hi++;
    }
  }
  return buf.subarray(start - first, start - first + length);
}

/**
 * Machine memory: ramBytes, except inside `zeros` (physical spans that hold
 * zeros: all-zero blocks, zero pages, bytes an acquisition tool dropped).
 */
export function memoryBytes(start: number, length: number, salt = 0, zeros: readonly Range[] = []): Buffer {
  const buf = ramBytes(start, length, salt);
  for (const z of zeros) {
    const from = Math.max(start, z.start);
    const to = Math.min(start + length, z.end + 1);
    if (from < to) buf.fill(0, from - start, to - start);
  }
  return buf;
}

export function rangeLength(r: Range): number {
  return r.end - r.start + 1;
}

/** /proc/iomem text for the ranges, with realistic non-RAM lines around them. */
export function iomemText(ranges: Range[]): string {
  const h = (n: number) => n.toString(16).padStart(8, '0');
  const lines: string[] = [];
  let pos = 0;
  for (const r of ranges) {
    if (r.start > pos) lines.push(`${h(pos)}-${h(r.start - 1)} : Reserved`);
    lines.push(`${h(r.start)}-${h(r.end)} : System RAM`);
    if (rangeLength(r) > 0x200000) lines.push(`  ${h(r.start + 0x100000)}-${h(r.start + 0x1fffff)} : Kernel code`);
    pos = r.end + 1;
  }
  lines.push(`${h(pos)}-${h(pos + 0xfff)} : PCI Bus 0000:00`);
  return lines.join('\n') + '\n';
}

export interface MachineFiles {
  dir: string;
  raw: string;
  iomem: string;
  ranges: Range[];
  salt: number;
}

/** Writes raw (ranges concatenated) + iomem for a machine. */
export function writeMachine(dir: string, ranges: Range[], salt = 0): MachineFiles {
  fs.mkdirSync(dir, { recursive: true });
  const raw = path.join(dir, 'machine.raw');
  const iomem = path.join(dir, 'machine.iomem');
  const fd = fs.openSync(raw, 'w');
  const chunk = 16 * 1024 * 1024; // bounded memory for GiB-sized ranges
  for (const r of ranges) {
    for (let done = 0; done < rangeLength(r); done += chunk) {
      fs.writeSync(fd, ramBytes(r.start + done, Math.min(chunk, rangeLength(r) - done), salt));
    }
  }
  fs.closeSync(fd);
  fs.writeFileSync(iomem, iomemText(ranges));
  return { dir, raw, iomem, ranges, salt };
}

// ---- reference writers -------------------------------------------------

/** padded: offset = physical address, zeros in holes, ends at the last RAM byte. */
export function expectedPadded(ranges: Range[], salt = 0, zeros: readonly Range[] = []): Chunk[] {
  const out: Chunk[] = [];
  let pos = 0;
  for (const r of ranges) {
    if (r.start > pos) out.push({ zeros: r.start - pos });
    out.push(memoryBytes(r.start, rangeLength(r), salt, zeros));
    pos = r.end + 1;
  }
  return out;
}

/** LiME v1: per range a 32-byte LE header (magic "EMiL", version 1, start, inclusive end, 8 zero bytes) + data. */
export function expectedLime(ranges: Range[], salt = 0, zeros: readonly Range[] = []): Chunk[] {
  return ranges.flatMap((r) => {
    const h = Buffer.alloc(32);
    h.write('EMiL', 0, 'latin1');
    h.writeUInt32LE(1, 4);
    h.writeBigUInt64LE(BigInt(r.start), 8);
    h.writeBigUInt64LE(BigInt(r.end), 16);
    return [h, memoryBytes(r.start, rangeLength(r), salt, zeros)];
  });
}

export function expectedRaw(ranges: Range[], salt = 0, zeros: readonly Range[] = []): Chunk[] {
  return ranges.map((r) => memoryBytes(r.start, rangeLength(r), salt, zeros));
}

export function chunksLength(chunks: Chunk[]): number {
  return chunks.reduce((n, c) => n + (Buffer.isBuffer(c) ? c.length : c.zeros), 0);
}

export function materialise(chunks: Chunk[]): Buffer {
  return Buffer.concat(chunks.map((c) => (Buffer.isBuffer(c) ? c : Buffer.alloc(c.zeros))));
}

export function sha256(chunks: Chunk[]): string {
  const h = createHash('sha256');
  const zero = Buffer.alloc(1 << 20);
  for (const c of chunks) {
    if (Buffer.isBuffer(c)) h.update(c);
    else for (let left = c.zeros; left > 0; left -= zero.length) h.update(left >= zero.length ? zero : zero.subarray(0, left));
  }
  return h.digest('hex');
}

/** Bytes [offset, offset+length) of the file the chunks describe, short at its end; holes are not materialised. */
export function readChunks(chunks: Chunk[], offset: number, length: number): Buffer {
  const total = chunksLength(chunks);
  const end = Math.min(total, offset + length);
  const out = Buffer.alloc(Math.max(0, end - offset));
  let at = 0;
  for (const c of chunks) {
    const n = Buffer.isBuffer(c) ? c.length : c.zeros;
    const from = Math.max(offset, at);
    const to = Math.min(end, at + n);
    if (from < to && Buffer.isBuffer(c)) c.copy(out, from - offset, from - at, to - at);
    at += n;
    if (at >= end) break;
  }
  return out;
}

/** Writes chunks to a sparse file (zeros become holes). */
export function writeChunks(file: string, chunks: Chunk[]): void {
  const fd = fs.openSync(file, 'w');
  let pos = 0;
  for (const c of chunks) {
    if (Buffer.isBuffer(c)) fs.writeSync(fd, c, 0, c.length, pos);
    pos += Buffer.isBuffer(c) ? c.length : c.zeros;
  }
  fs.ftruncateSync(fd, pos);
  fs.closeSync(fd);
}

export function fileSha256(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 22);
  let pos = 0;
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) break;
    h.update(buf.subarray(0, n));
    pos += n;
  }
  fs.closeSync(fd);
  return h.digest('hex');
}

/** The sample machine of the quick start: unaligned end below 1 MiB, RAM from 1 MiB, RAM above 4 GiB. */
export const SAMPLE_RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x4fffff },
  { start: 0x100000000, end: 0x1000fffff },
];

/** The machine's physical bytes [start, start+length): RAM content inside ranges, zeros elsewhere. */
export function physicalBytes(ranges: Range[], start: number, length: number, salt = 0): Buffer {
  const out = Buffer.alloc(length);
  for (const r of ranges) {
    const from = Math.max(start, r.start);
    const to = Math.min(start + length, r.end + 1);
    if (from < to) ramBytes(from, to - from, salt).copy(out, from - start);
  }
  return out;
}
