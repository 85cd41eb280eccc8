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
