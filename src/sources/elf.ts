import { hex, InputError } from '../errors';
import { mergeAdjacent } from '../maps/ranges';
import { Segment } from '../types';
import { EHDR_SIZE, ET_CORE, NO_PADDR, PHDR_SIZE, PT_LOAD, PT_NOTE } from '../views/elf';
import { ImageFile } from './image-file';
import type { ParsedImage } from './open';

/** ELF64 constants beyond those the ELF view writes (System V gABI, elf.h). */
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const PN_XNUM = 0xffff;
const SHDR_SIZE = 64;
const NT_TASKSTRUCT = 4;
/** x86-64 __START_KERNEL_map: PT_LOADs mapped here are the kernel image, an alias of RAM. */
const KERNEL_IMAGE_BASE = 0xffffffff80000000n;
/** Notes are small (per-CPU registers, VMCOREINFO); read at most this much of a PT_NOTE. */
const MAX_NOTES = 1 << 20;

export interface ElfPhdr {
  /** Index in the program header table (messages say "PT_LOAD #i"). */
  index: number;
  type: number;
  offset: bigint;
  vaddr: bigint;
  paddr: bigint;
  filesz: bigint;
  memsz: bigint;
}

export interface ElfNote {
  name: string;
  type: number;
  desc: Buffer;
}

export interface ElfCore {
  phdrs: ElfPhdr[];
  notes: ElfNote[];
}

/** Reads and checks the ELF header, the program header table and the notes. */
export function readElfCore(image: ImageFile): ElfCore {
  const fail = (msg: string): never => {
    throw new InputError(`${image.path}: ${msg}`);
  };
  const eh = image.readAt(0, EHDR_SIZE);
  if (eh.length < EHDR_SIZE) fail(`truncated ELF header: ${eh.length} of ${EHDR_SIZE} bytes`);
  if (eh[4] !== ELFCLASS64) fail(`ELF class ${eh[4]}${eh[4] === 1 ? ' (ELF32)' : ''} at file offset 0x4: memview reads 64-bit ELF cores only`);
  if (eh[5] !== ELFDATA2LSB) fail(`ELF data encoding ${eh[5]} at file offset 0x5: memview reads little-endian ELF cores only`);
  const type = eh.readUInt16LE(16);
  if (type !== ET_CORE) fail(`ELF type ${type} at file offset 0x10 is not a core file (expected ET_CORE ${ET_CORE})`);
  // e_ehsize is not checked: QEMU's dump-guest-memory writes 8 there.
  const phoff = checkedNumber(eh.readBigUInt64LE(32), 'e_phoff', fail);
  const phentsize = eh.readUInt16LE(54);
  let phnum = eh.readUInt16LE(56);
  if (phnum === PN_XNUM) {
    // Too many headers for e_phnum: the real count is section header 0's sh_info.
    const shoff = checkedNumber(eh.readBigUInt64LE(40), 'e_shoff', fail);
    const sh = image.readAt(shoff, SHDR_SIZE);
    if (sh.length < SHDR_SIZE) fail(`e_phnum is PN_XNUM but section header 0 at file offset ${hex(shoff)} is past the end of the file`);
    phnum = sh.readUInt32LE(44);
  }
  if (phentsize < PHDR_SIZE) fail(`e_phentsize ${phentsize} at file offset 0x36 is below ${PHDR_SIZE}`);
  if (phnum === 0) fail('ELF core has no program headers');
  const tableEnd = phoff + phnum * phentsize;
  if (tableEnd > image.size) {
    fail(`program header table (${phnum} entries at file offset ${hex(phoff)}) ends at ${hex(tableEnd)}, past the end of the file (${hex(image.size)} bytes)`);
  }
  const table = image.readAt(phoff, phnum * phentsize);
  const phdrs: ElfPhdr[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = i * phentsize;
    phdrs.push({
      index: i,
      type: table.readUInt32LE(o),
      offset: table.readBigUInt64LE(o + 8),
      vaddr: table.readBigUInt64LE(o + 16),
      paddr: table.readBigUInt64LE(o + 24),
      filesz: table.readBigUInt64LE(o + 32),
      memsz: table.readBigUInt64LE(o + 40),
    });
  }
  const notes = phdrs.filter((p) => p.type === PT_NOTE).flatMap((p) => readNotes(image, p));
  return { phdrs, notes };
}

function checkedNumber(v: bigint, what: string, fail: (msg: string) => never): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} 0x${v.toString(16)} is beyond any file`);
  return Number(v);
}

/** Elf64_Nhdr records {namesz, descsz, type, name, desc}, name and desc padded to 4 bytes. */
function readNotes(image: ImageFile, p: ElfPhdr): ElfNote[] {
  if (p.offset >= BigInt(image.size)) return [];
  const buf = image.readAt(Number(p.offset), Number(p.filesz < MAX_NOTES ? p.filesz : MAX_NOTES));
  const notes: ElfNote[] = [];
  const pad4 = (n: number) => Math.ceil(n / 4) * 4; // not (n + 3) & ~3: a u32 size from a corrupt note overflows 32-bit ops
  let at = 0;
  while (at + 12 <= buf.length) {
    const namesz = buf.readUInt32LE(at);
    const descsz = buf.readUInt32LE(at + 4);
    const type = buf.readUInt32LE(at + 8);
    const descAt = at + 12 + pad4(namesz);
    if (descAt + descsz > buf.length) break;
    notes.push({ name: buf.toString('latin1', at + 12, at + 12 + namesz).replace(/\0+$/, ''), type, desc: buf.subarray(descAt, descAt + descsz) });
    at = descAt + pad4(descsz);
  }
  return notes;
}

/** /proc/kcore carries a CORE NT_TASKSTRUCT note (the reader's task), as drgn checks. */
export function hasKcoreNote(image: ImageFile): boolean {
  try {
    return readElfCore(image).notes.some((n) => n.name === 'CORE' && n.type === NT_TASKSTRUCT);
  } catch {
    return false; // not a readable ELF core: the ELF parser says why
  }
}

interface Candidate extends Segment {
  phdr: ElfPhdr;
  textAlias: boolean;
}

/**
 * PT_LOAD segments by physical address, disjoint and sorted: p_paddr (u64)-1
 * is skipped, a p_filesz < p_memsz tail reads as zeros, and where segments
 * overlap, RAM wins over kernel-image aliases, then the earlier header wins.
 */
export function physicalSegments(image: ImageFile, core: ElfCore): { segments: Segment[]; notes: string[] } {
  const fail = (msg: string): never => {
    throw new InputError(`${image.path}: ${msg}`);
  };
  const notes: string[] = [];
  const loads = core.phdrs.filter((p) => p.type === PT_LOAD && p.memsz > 0n);
  const physical = loads.filter((p) => p.paddr !== NO_PADDR);
  if (physical.length < loads.length) {
    notes.push(`skipped ${loads.length - physical.length} PT_LOADs with p_paddr -1 (not physical memory: vmalloc, vmemmap, modules)`);
  }
  if (physical.length === 0) fail('no PT_LOAD segment has a physical address');
  if (physical.every((p) => p.paddr === 0n) && (physical.length > 1 || physical[0].vaddr !== 0n)) {
    fail(
      `every PT_LOAD has p_paddr 0, so the physical address of the data is unknown ` +
        `(/proc/kcore of kernels before 4.11 writes no p_paddr)`,
    );
  }
  const candidates: Candidate[] = [];
  for (const p of physical) {
    const what = `PT_LOAD #${p.index} (p_paddr 0x${p.paddr.toString(16)})`;
    if (p.filesz > p.memsz) fail(`${what}: p_filesz 0x${p.filesz.toString(16)} exceeds p_memsz 0x${p.memsz.toString(16)}`);
    const phys = checkedNumber(p.paddr, `${what} p_paddr`, fail);
    const memsz = checkedNumber(p.memsz, `${what} p_memsz`, fail);
    checkedNumber(p.paddr + p.memsz, `${what} end`, fail);
    const filesz = Number(p.filesz);
    const textAlias = p.vaddr >= KERNEL_IMAGE_BASE;
    if (filesz > 0) {
      const offset = checkedNumber(p.offset, `${what} p_offset`, fail);
      if (offset + filesz > image.size) {
        fail(`${what} has data at file offset ${hex(offset)}-${hex(offset + filesz - 1)}, past the end of the file (${hex(image.size)} bytes)`);
      }
      candidates.push({ phys, length: filesz, offset, phdr: p, textAlias });
    }
    if (memsz > filesz) {
      candidates.push({ phys: phys + filesz, length: memsz - filesz, offset: null, phdr: p, textAlias });
      notes.push(`${what}: p_filesz < p_memsz, ${hex(memsz - filesz)} bytes at ${hex(phys + filesz)} read as zeros`);
    }
  }
  candidates.sort((a, b) => Number(a.textAlias) - Number(b.textAlias) || a.phdr.index - b.phdr.index);
  const taken: Segment[] = [];
  for (const c of candidates) {
    const free = subtract(taken, c);
    const lost = c.length - free.reduce((n, s) => n + s.length, 0);
    if (lost > 0) {
      notes.push(
        c.textAlias
          ? `PT_LOAD #${c.phdr.index} (kernel image at vaddr 0x${c.phdr.vaddr.toString(16)}) aliases RAM served by other segments: ${hex(lost)} bytes not used`
          : `PT_LOAD #${c.phdr.index} overlaps earlier segments by ${hex(lost)} bytes: the earlier program header wins`,
      );
    }
    for (const f of free) insertSorted(taken, f);
  }
  return { segments: taken, notes };
}

/** Parts of `c` not covered by `taken` (sorted, disjoint), with offsets moved along. */
function subtract(taken: readonly Segment[], c: Segment): Segment[] {
  const out: Segment[] = [];
  let pos = c.phys;
  const end = c.phys + c.length;
  const piece = (from: number, to: number) => out.push({ phys: from, length: to - from, offset: c.offset === null ? null : c.offset + (from - c.phys) });
  for (const t of taken) {
    if (t.phys + t.length <= pos) continue;
    if (t.phys >= end) break;
    if (t.phys > pos) piece(pos, t.phys);
    pos = Math.max(pos, t.phys + t.length);
    if (pos >= end) break;
  }
  if (pos < end) piece(pos, end);
  return out;
}

function insertSorted(list: Segment[], s: Segment): void {
  let i = list.length;
  while (i > 0 && list[i - 1].phys > s.phys) i--;
  list.splice(i, 0, s);
}

/** Note names and types as readelf spells them (elf.h; QEMU's dump.c). */
const NOTE_NAMES: Record<string, string> = {
  'CORE/1': 'CORE NT_PRSTATUS',
  'CORE/2': 'CORE NT_PRFPREG',
  'CORE/3': 'CORE NT_PRPSINFO',
  'CORE/4': 'CORE NT_TASKSTRUCT',
  'CORE/6': 'CORE NT_AUXV',
  'VMCOREINFO/0': 'VMCOREINFO',
  'QEMU/0': 'QEMU CPU state',
};

/** What the notes say about who wrote the core (shown by `info`). */
export function describeNotes(notes: readonly ElfNote[]): string[] {
  if (notes.length === 0) return ['ELF notes: none'];
  const counts = new Map<string, number>();
  for (const n of notes) {
    const key = NOTE_NAMES[`${n.name}/${n.type}`] ?? `${n.name} type ${hex(n.type)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const out = [`ELF notes: ${[...counts].map(([k, c]) => (c > 1 ? `${c}x ${k}` : k)).join(', ')}`];
  const vmcoreinfo = notes.find((n) => n.name === 'VMCOREINFO');
  const release = vmcoreinfo ? /^OSRELEASE=(.*)$/m.exec(vmcoreinfo.desc.toString('latin1'))?.[1] : undefined;
  if (release) out.push(`VMCOREINFO note: kernel ${release}`);
  return out;
}

/** Which tool wrote the core, from its notes. */
export function coreFlavour(notes: readonly ElfNote[]): string {
  if (notes.some((n) => n.name === 'QEMU')) return 'QEMU dump-guest-memory';
  if (notes.some((n) => n.name === 'VMCOREINFO')) return 'kernel core with VMCOREINFO (kdump /proc/vmcore style)';
  return 'ELF core';
}

/** An ELF core (QEMU dump-guest-memory, kdump vmcore, …): RAM = the physical PT_LOADs. */
export function parseElf(image: ImageFile): ParsedImage {
  const core = readElfCore(image);
  const { segments, notes } = physicalSegments(image, core);
  return {
    ranges: mergeAdjacent(segments.map((s) => ({ start: s.phys, length: s.length }))),
    segments,
    mapOrigin: `ELF PT_LOAD p_paddr (${coreFlavour(core.notes)})`,
    notes: [...describeNotes(core.notes), ...notes],
  };
}
