/**
 * ELF64 little-endian core layout (System V gABI, elf.h; formats.md section 3),
 * read and written here only: the file header, program headers, section
 * header 0 (for PN_XNUM) and notes.
 *
 *   Elf64_Ehdr (64): e_ident[16] (0x7f 'ELF', class 2, data 1, version 1)
 *     0x10 u16 e_type  0x12 u16 e_machine  0x14 u32 e_version  0x18 u64 e_entry
 *     0x20 u64 e_phoff  0x28 u64 e_shoff  0x30 u32 e_flags  0x34 u16 e_ehsize
 *     0x36 u16 e_phentsize  0x38 u16 e_phnum  0x3a u16 e_shentsize ...
 *   Elf64_Phdr (56): u32 p_type, u32 p_flags, u64 p_offset, p_vaddr, p_paddr,
 *     p_filesz, p_memsz, p_align
 *   Elf64_Nhdr (12): u32 n_namesz, n_descsz, n_type; then the name and the
 *     desc, each padded to a multiple of 4 (notePadded: the one rule).
 */
export const EHDR_SIZE = 64;
export const PHDR_SIZE = 56;
export const SHDR_SIZE = 64;
export const NHDR_SIZE = 12;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;
export const ET_CORE = 4;
export const EM_X86_64 = 62;
export const PT_LOAD = 1;
export const PT_NOTE = 4;
export const PF_RWX = 7;
export const NT_PRSTATUS = 1;
export const NT_TASKSTRUCT = 4;
/** e_phnum when the real count is in section header 0's sh_info. */
export const PN_XNUM = 0xffff;
/** p_paddr of a load that has no physical address (kcore, kdump text aliases): physical readers skip it. */
export const NO_PADDR = 0xffffffffffffffffn;
/** Byte offsets of the e_ident and header fields that messages name. */
export const EI_CLASS = 4;
export const EI_DATA = 5;
export const E_TYPE = 0x10;
export const E_PHENTSIZE = 0x36;
export const E_PHNUM = 0x38;

export interface ElfHeader {
  class: number;
  data: number;
  type: number;
  machine: number;
  phoff: bigint;
  shoff: bigint;
  phentsize: number;
  /** e_phnum as written (PN_XNUM: see section header 0). */
  phnum: number;
}

export interface ElfPhdr {
  /** Index in the program header table (messages say "PT_LOAD #i"). */
  index: number;
  type: number;
  flags: number;
  offset: bigint;
  vaddr: bigint;
  paddr: bigint;
  filesz: bigint;
  memsz: bigint;
  align: bigint;
}

export interface ElfNote {
  name: string;
  type: number;
  desc: Buffer;
}

export function isElfMagic(b: Buffer): boolean {
  return b.length >= 4 && b.toString('latin1', 0, 4) === '\x7fELF';
}

export function decodeElfHeader(b: Buffer): ElfHeader {
  return {
    class: b[EI_CLASS],
    data: b[EI_DATA],
    type: b.readUInt16LE(0x10),
    machine: b.readUInt16LE(0x12),
    phoff: b.readBigUInt64LE(0x20),
    shoff: b.readBigUInt64LE(0x28),
    phentsize: b.readUInt16LE(0x36),
    phnum: b.readUInt16LE(0x38),
  };
}

/** An x86-64 ET_CORE header with the program header table right after it. */
export function encodeCoreHeader(phnum: number): Buffer {
  const h = Buffer.alloc(EHDR_SIZE);
  h.write('\x7fELF', 0, 'latin1');
  h[EI_CLASS] = ELFCLASS64;
  h[EI_DATA] = ELFDATA2LSB;
  h[6] = EV_CURRENT;
  h.writeUInt16LE(ET_CORE, 0x10);
  h.writeUInt16LE(EM_X86_64, 0x12);
  h.writeUInt32LE(EV_CURRENT, 0x14);
  h.writeBigUInt64LE(BigInt(EHDR_SIZE), 0x20); // e_phoff
  h.writeUInt16LE(EHDR_SIZE, 0x34); // e_ehsize
  h.writeUInt16LE(PHDR_SIZE, 0x36);
  h.writeUInt16LE(phnum, 0x38);
  return h;
}

/** sh_info of section header 0 at `b[at]`: the real e_phnum under PN_XNUM. */
export function sectionZeroInfo(b: Buffer, at = 0): number {
  return b.readUInt32LE(at + 44);
}

/** The program header at `b[at]` (`index`: its place in the table). */
export function decodePhdr(b: Buffer, at: number, index: number): ElfPhdr {
  return {
    index,
    type: b.readUInt32LE(at),
    flags: b.readUInt32LE(at + 4),
    offset: b.readBigUInt64LE(at + 8),
    vaddr: b.readBigUInt64LE(at + 16),
    paddr: b.readBigUInt64LE(at + 24),
    filesz: b.readBigUInt64LE(at + 32),
    memsz: b.readBigUInt64LE(at + 40),
    align: b.readBigUInt64LE(at + 48),
  };
}

/** Byte offsets of the Elf64_Phdr fields (for readers that take one field at a time). */
export const P_TYPE = 0;
export const P_OFFSET = 8;
export const P_VADDR = 16;
export const P_PADDR = 24;
export const P_FILESZ = 32;
export const P_MEMSZ = 40;

export interface PhdrFields {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  paddr: bigint;
  /** p_filesz = p_memsz. */
  size: number;
  align: number;
}

export function encodePhdr(p: PhdrFields): Buffer {
  const b = Buffer.alloc(PHDR_SIZE);
  b.writeUInt32LE(p.type, 0);
  b.writeUInt32LE(p.flags, 4);
  b.writeBigUInt64LE(BigInt(p.offset), 8);
  b.writeBigUInt64LE(BigInt.asUintN(64, p.vaddr), 16);
  b.writeBigUInt64LE(BigInt.asUintN(64, p.paddr), 24);
  b.writeBigUInt64LE(BigInt(p.size), 32);
  b.writeBigUInt64LE(BigInt(p.size), 40);
  b.writeBigUInt64LE(BigInt(p.align), 48);
  return b;
}

/**
 * A note's name or desc size rounded up to 4, as readers and writers pad them.
 * Not (n + 3) & ~3: a u32 size from a corrupt note overflows 32-bit operations.
 */
export function notePadded(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/** One note: Elf64_Nhdr, the name NUL-terminated, name and desc zero-padded to 4 bytes. */
export function encodeNote(name: string, type: number, desc: Uint8Array): Buffer {
  const nameBytes = Buffer.from(name + '\0', 'latin1');
  const out = Buffer.alloc(NHDR_SIZE + notePadded(nameBytes.length) + notePadded(desc.length));
  out.writeUInt32LE(nameBytes.length, 0);
  out.writeUInt32LE(desc.length, 4);
  out.writeUInt32LE(type, 8);
  nameBytes.copy(out, NHDR_SIZE);
  out.set(desc, NHDR_SIZE + notePadded(nameBytes.length));
  return out;
}

/** The notes of a PT_NOTE's bytes; a note cut short by the end of `b` ends the list. */
export function decodeNotes(b: Buffer): ElfNote[] {
  const notes: ElfNote[] = [];
  let at = 0;
  while (at + NHDR_SIZE <= b.length) {
    const namesz = b.readUInt32LE(at);
    const descsz = b.readUInt32LE(at + 4);
    const type = b.readUInt32LE(at + 8);
    const descAt = at + NHDR_SIZE + notePadded(namesz);
    if (descAt + descsz > b.length) break;
    notes.push({ name: b.toString('latin1', at + NHDR_SIZE, at + NHDR_SIZE + namesz).replace(/\0+$/, ''), type, desc: b.subarray(descAt, descAt + descsz) });
    at = descAt + notePadded(descsz);
  }
  return notes;
}
