/**
 * Independent readers that apply the documented acceptance rules of real
 * consumers (formats.md 2.3) to whole files in memory. Nothing here imports
 * src/: each function throws with the rule a file breaks, or returns the
 * physical segments that consumer would see.
 */
import { readElf, readNotes } from './elf-reader';

export interface PhysSegment {
  paddr: number;
  offset: number;
  length: number;
}

const PT_LOAD = 1;
const PT_NOTE = 4;
const U64_MAX = 0xffffffffffffffffn;

function assertAscending(segs: PhysSegment[], who: string): void {
  for (let i = 1; i < segs.length; i++) {
    if (segs[i].paddr < segs[i - 1].paddr + segs[i - 1].length) {
      throw new Error(`${who}: segment ${i} at 0x${segs[i].paddr.toString(16)} overlaps or is out of order`);
    }
  }
}

/** Volatility 3 Elf64Layer: every PT_LOAD with p_filesz == p_memsz > 0 at p_paddr; SegmentedLayer needs them sorted. */
export function volatility3Elf(file: Buffer): PhysSegment[] {
  const elf = readElf(file);
  const segs = elf.phdrs
    .filter((p) => p.type === PT_LOAD && p.filesz === p.memsz && p.filesz > 0)
    .map((p) => ({ paddr: Number(p.paddr), offset: p.offset, length: p.filesz }));
  assertAscending(segs, 'Volatility 3');
  for (const s of segs) if (s.offset + s.length > file.length) throw new Error('Volatility 3: segment beyond end of file');
  return segs;
}

/** Volatility 2 QemuCoreDumpElf: needs a CORE NT_PRSTATUS note. */
export function volatility2Elf(file: Buffer): void {
  const elf = readElf(file);
  const note = elf.phdrs.find((p) => p.type === PT_NOTE);
  if (!note) throw new Error('Volatility 2: no PT_NOTE');
  const notes = readNotes(file.subarray(note.offset, note.offset + note.filesz));
  if (!notes.some((n) => n.name === 'CORE' && n.type === 1)) throw new Error('Volatility 2: no CORE NT_PRSTATUS note');
}

/**
 * LeechCore device_file.c ELF64: strict header, phdrs inside the first
 * 0x2000 bytes, and a PT_LOAD is used only when page-aligned, non-empty
 * and inside the file. A physical core must lose none of its loads.
 */
export function leechcoreElf(file: Buffer): PhysSegment[] {
  const elf = readElf(file);
  if (elf.type !== 4) throw new Error('LeechCore: e_type is not ET_CORE');
  if (elf.version !== 1) throw new Error('LeechCore: e_version is not 1');
  if (elf.phoff !== 0x40) throw new Error('LeechCore: e_phoff is not 0x40');
  if (elf.phentsize !== 56) throw new Error('LeechCore: e_phentsize is not 56');
  if (elf.phdrs.length < 1 || elf.phdrs.length > 0x200) throw new Error('LeechCore: e_phnum out of range');
  if (elf.phoff + elf.phdrs.length * 56 > 0x2000) throw new Error(`LeechCore: ${elf.phdrs.length} program headers do not fit its 0x2000-byte buffer`);
  const segs: PhysSegment[] = [];
  for (const p of elf.phdrs) {
    if (p.type !== PT_LOAD) continue;
    const used = p.offset !== 0 && p.filesz === p.memsz && (p.paddr & 0xfffn) === 0n && (p.filesz & 0xfff) === 0 && p.offset + p.filesz <= file.length;
    if (!used) throw new Error(`LeechCore: PT_LOAD at paddr 0x${p.paddr.toString(16)} would be skipped`);
    segs.push({ paddr: Number(p.paddr), offset: p.offset, length: p.filesz });
  }
  assertAscending(segs, 'LeechCore');
  return segs;
}

/**
 * crash (netdump.c) and drgn: phdr[0] is the PT_NOTE right after the ELF
 * header, every other phdr a PT_LOAD whose data follows all headers and
 * notes; PT_NOTE p_align 0 or 4 (drgn reads 8 as 8-byte note headers).
 */
export function kernelDebuggerElf(file: Buffer): void {
  const elf = readElf(file);
  if (elf.ehsize !== 64) throw new Error('crash: e_ehsize is not 64');
  if (elf.phdrs.length < 2) throw new Error('crash: e_phnum < 2');
  const [note, ...loads] = elf.phdrs;
  if (note.type !== PT_NOTE) throw new Error('crash: phdr[0] is not PT_NOTE');
  if (note.align !== 0 && note.align !== 4) throw new Error(`drgn: PT_NOTE p_align ${note.align}`);
  for (const l of loads) {
    if (l.type !== PT_LOAD) throw new Error('crash: a phdr after the first is not PT_LOAD');
    if (l.offset < note.offset + note.filesz) throw new Error('crash: load data before the end of the notes');
  }
}

/** The ELF's PT_LOADs with p_paddr = -1: (vaddr, offset, length). */
export function virtualOnlyLoads(file: Buffer): { vaddr: bigint; offset: number; length: number }[] {
  return readElf(file)
    .phdrs.filter((p) => p.type === PT_LOAD && p.paddr === U64_MAX)
    .map((p) => ({ vaddr: p.vaddr, offset: p.offset, length: p.filesz }));
}

/** Volatility 3 LimeLayer: headers from offset 0 to EOF, version 1, ascending, lengths end-start+1, no trailing bytes. */
export function volatility3Lime(file: Buffer): PhysSegment[] {
  const segs: PhysSegment[] = [];
  let pos = 0;
  let prevEnd = -1;
  while (pos < file.length) {
    if (pos + 32 > file.length || file.readUInt32LE(pos) !== 0x4c694d45) throw new Error(`Volatility 3: bad magic at file offset 0x${pos.toString(16)}`);
    if (file.readUInt32LE(pos + 4) !== 1) throw new Error('Volatility 3: LiME version is not 1');
    const start = Number(file.readBigUInt64LE(pos + 8));
    const end = Number(file.readBigUInt64LE(pos + 16));
    if (start < prevEnd || end < start) throw new Error(`Volatility 3: bad LiME range at file offset 0x${pos.toString(16)}`);
    segs.push({ paddr: start, offset: pos + 32, length: end - start + 1 });
    pos += 32 + end - start + 1;
    prevEnd = end;
  }
  if (pos !== file.length) throw new Error('Volatility 3: last LiME record runs past end of file');
  return segs;
}

/** LeechCore LiME: page-aligned start, e_addr ending in fff or 000, ascending; length page-truncated. */
export function leechcoreLime(file: Buffer): PhysSegment[] {
  const segs: PhysSegment[] = [];
  let pos = 0;
  while (pos + 32 <= file.length) {
    if (file.readUInt32LE(pos) !== 0x4c694d45) throw new Error(`LeechCore: bad LiME magic at 0x${pos.toString(16)}`);
    const start = Number(file.readBigUInt64LE(pos + 8));
    const end = Number(file.readBigUInt64LE(pos + 16));
    if (start % 0x1000 !== 0 || ![0xfff, 0].includes(end % 0x1000) || start >= end)
      throw new Error(`LeechCore: FAIL: Parse LiME header at 0x${pos.toString(16)}`);
    const length = Math.floor((end + 1) / 0x1000) * 0x1000 - start;
    segs.push({ paddr: start, offset: pos + 32, length });
    pos += 32 + length;
  }
  if (pos !== file.length) throw new Error('LeechCore: trailing bytes after the last LiME record');
  assertAscending(segs, 'LeechCore');
  return segs;
}

/**
 * LeechCore `-memmap` text (memmap.c as documented): per line `base top
 * [remap]` in hex (0x optional); base must be page-aligned and below top;
 * the length top+1-base must be whole pages; entries ascending, no overlap;
 * remap 0 means "identity", bit 63 forces a literal file offset.
 */
export function leechcoreMemmap(text: string): PhysSegment[] {
  const FORCE = 0x8000000000000000n;
  const segs: PhysSegment[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const v = line
      .replace(/0x/g, '  ')
      .trim()
      .split(/\s+/)
      .map((t) => BigInt('0x' + t));
    if (v.some((x) => x === undefined) || v.length < 2) throw new Error(`LeechCore memmap: unparsable line ${JSON.stringify(line)}`);
    const [base, top, remap = 0n] = v;
    if ((base & 0xfffn) !== 0n || base >= top) throw new Error(`LeechCore memmap: line ignored: ${line}`);
    const cb = top + 1n - base;
    if ((cb & 0xfffn) !== 0n) throw new Error(`LeechCore memmap: range not whole pages: ${line}`);
    const offset = remap === 0n ? base : remap & ~FORCE;
    segs.push({ paddr: Number(base), offset: Number(offset), length: Number(cb) });
  }
  assertAscending(segs, 'LeechCore memmap');
  return segs;
}
