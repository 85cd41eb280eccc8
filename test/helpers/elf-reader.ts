/**
 * A minimal ELF64 core reader written from the gABI, independent of src/,
 * used to check memory.elf the way Volatility and LeechCore read it.
 */
export interface Phdr {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  paddr: bigint;
  filesz: number;
  memsz: number;
  align: number;
}

export interface ElfCore {
  type: number;
  machine: number;
  version: number;
  phoff: number;
  ehsize: number;
  phentsize: number;
  phdrs: Phdr[];
}

export function readElf(head: Buffer): ElfCore {
  if (head.toString('latin1', 0, 4) !== '\x7fELF') throw new Error('not ELF');
  if (head[4] !== 2 || head[5] !== 1) throw new Error('not ELF64 LE');
  const phoff = Number(head.readBigUInt64LE(32));
  const phentsize = head.readUInt16LE(54);
  const phnum = head.readUInt16LE(56);
  const phdrs: Phdr[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    phdrs.push({
      type: head.readUInt32LE(o),
      flags: head.readUInt32LE(o + 4),
      offset: Number(head.readBigUInt64LE(o + 8)),
      vaddr: head.readBigUInt64LE(o + 16),
      paddr: head.readBigUInt64LE(o + 24),
      filesz: Number(head.readBigUInt64LE(o + 32)),
      memsz: Number(head.readBigUInt64LE(o + 40)),
      align: Number(head.readBigUInt64LE(o + 48)),
    });
  }
  return {
    type: head.readUInt16LE(16),
    machine: head.readUInt16LE(18),
    version: head.readUInt32LE(20),
    phoff,
    ehsize: head.readUInt16LE(52),
    phentsize,
    phdrs,
  };
}

export interface Note {
  name: string;
  type: number;
  desc: Buffer;
}

/** The notes of a PT_NOTE segment (4-byte aligned Elf64_Nhdr). */
export function readNotes(seg: Buffer): Note[] {
  const notes: Note[] = [];
  const up4 = (n: number) => Math.ceil(n / 4) * 4;
  let pos = 0;
  while (pos + 12 <= seg.length) {
    const namesz = seg.readUInt32LE(pos);
    const descsz = seg.readUInt32LE(pos + 4);
    const type = seg.readUInt32LE(pos + 8);
    const nameAt = pos + 12;
    const descAt = nameAt + up4(namesz);
    if (descAt + descsz > seg.length) throw new Error(`note at 0x${pos.toString(16)} runs past its segment`);
    notes.push({ name: seg.toString('latin1', nameAt, nameAt + namesz).replace(/\0$/, ''), type, desc: seg.subarray(descAt, descAt + descsz) });
    pos = descAt + up4(descsz);
  }
  if (pos !== seg.length) throw new Error('trailing bytes in PT_NOTE');
  return notes;
}
