/**
 * Independent writers of the source shapes acquisition tools produce, built
 * from shared/reference/formats.md (LiME module, QEMU dump-guest-memory,
 * /proc/kcore). Nothing here imports from src/.
 */
import { execFileSync } from 'node:child_process';
import { Chunk, Range, ramBytes, rangeLength } from './machine';

const PAGE = 4096;

/** The machine's physical memory: the bytes at [start, start + length). */
export type Memory = (start: number, length: number) => Buffer;

/** The default test memory: every 8-byte word holds its own address xor `salt`. */
export function saltedRam(salt = 0): Memory {
  return (start, length) => ramBytes(start, length, salt);
}

/** A memory function, or a salt for `saltedRam`. */
export type MemoryOrSalt = Memory | number;

function memoryOf(m: MemoryOrSalt): Memory {
  return typeof m === 'number' ? saltedRam(m) : m;
}

function limeHeader(start: number, end: number, version = 1): Buffer {
  const h = Buffer.alloc(32);
  h.write('EMiL', 0, 'latin1');
  h.writeUInt32LE(version, 4);
  h.writeBigUInt64LE(BigInt(start), 8);
  h.writeBigUInt64LE(BigInt(end), 16);
  return h;
}

/**
 * The bytes the LiME kernel module writes for one range (write_range): in
 * steps of a page from the range start, the page containing the position,
 * copied from that page's base; a partial last step is written as zeros.
 */
export function limeModuleData(r: Range, memory: MemoryOrSalt = 0): Buffer {
  const mem = memoryOf(memory);
  const out: Buffer[] = [];
  for (let i = r.start; i <= r.end; i += PAGE) {
    const step = Math.min(PAGE, r.end - i + 1);
    out.push(step < PAGE ? Buffer.alloc(step) : mem(i - (i % PAGE), step));
  }
  return Buffer.concat(out);
}

/** A LiME file as the kernel module writes it (format=lime). */
export function limeModuleImage(ranges: Range[], mem: MemoryOrSalt = 0): Chunk[] {
  return ranges.flatMap((r) => [limeHeader(r.start, r.end), limeModuleData(r, mem)]);
}

/** A LiME file with exact data (what AVML v1 and memview write), with a chosen version. */
export function limeImage(ranges: Range[], memory: MemoryOrSalt = 0, version = 1): Chunk[] {
  const mem = memoryOf(memory);
  return ranges.flatMap((r) => [limeHeader(r.start, r.end, version), mem(r.start, rangeLength(r))]);
}

// ---- ELF ---------------------------------------------------------------

export const NO_PADDR = 0xffffffffffffffffn;

export interface Note {
  name: string;
  type: number;
  desc: Buffer;
}

export function noteBytes(notes: Note[]): Buffer {
  const pad4 = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  return Buffer.concat(
    notes.map((n) => {
      const name = Buffer.from(n.name + '\0', 'latin1');
      const h = Buffer.alloc(12);
      h.writeUInt32LE(name.length, 0);
      h.writeUInt32LE(n.desc.length, 4);
      h.writeUInt32LE(n.type, 8);
      return Buffer.concat([h, pad4(name), pad4(n.desc)]);
    }),
  );
}

export interface Load {
  paddr: bigint;
  vaddr?: bigint;
  /** File bytes (p_filesz). */
  data: Buffer;
  /** p_memsz; defaults to data.length. */
  memsz?: number;
}

function ehdr(opts: { phoff: number; phnum: number; ehsize: number; shoff?: number; shnum?: number; shstrndx?: number; cls?: number; type?: number }): Buffer {
  const h = Buffer.alloc(64);
  h.write('\x7fELF', 0, 'latin1');
  h[4] = opts.cls ?? 2;
  h[5] = 1;
  h[6] = 1;
  h.writeUInt16LE(opts.type ?? 4, 16); // ET_CORE
  h.writeUInt16LE(62, 18); // EM_X86_64
  h.writeUInt32LE(1, 20);
  h.writeBigUInt64LE(BigInt(opts.phoff), 32);
  h.writeBigUInt64LE(BigInt(opts.shoff ?? 0), 40);
  h.writeUInt16LE(opts.ehsize, 52);
  h.writeUInt16LE(56, 54);
  h.writeUInt16LE(opts.phnum, 56);
  h.writeUInt16LE(opts.shnum ? 64 : 0, 58);
  h.writeUInt16LE(opts.shnum ?? 0, 60);
  h.writeUInt16LE(opts.shstrndx ?? 0, 62);
  return h;
}

function phdr(type: number, flags: number, offset: bigint, vaddr: bigint, paddr: bigint, filesz: number, memsz: number, align: number): Buffer {
  const p = Buffer.alloc(56);
  p.writeUInt32LE(type, 0);
  p.writeUInt32LE(flags, 4);
  p.writeBigUInt64LE(offset, 8);
  p.writeBigUInt64LE(vaddr, 16);
  p.writeBigUInt64LE(paddr, 24);
  p.writeBigUInt64LE(BigInt(filesz), 32);
  p.writeBigUInt64LE(BigInt(memsz), 40);
  p.writeBigUInt64LE(BigInt(align), 48);
  return p;
}

/**
 * An ELF core laid out like QEMU's dump-guest-memory (paging off): e_ehsize
 * 8, the section header table (NULL + .shstrtab) at 0x40 before the program
 * headers at 0xc0, PT_NOTE first, then the notes, then every PT_LOAD's data
 * packed back to back at non-page-aligned offsets, .shstrtab last.
 * p_vaddr = p_paddr, p_flags 0, p_align 0.
 */
export function qemuElfImage(loads: Load[], notes: Note[]): Chunk[] {
  const phnum = 1 + loads.length;
  const shoff = 0x40;
  const phoff = shoff + 2 * 64;
  const noteBuf = noteBytes(notes);
  const notesAt = phoff + phnum * 56;
  let at = notesAt + noteBuf.length;
  const phdrs = [phdr(4, 0, BigInt(notesAt), 0n, 0n, noteBuf.length, noteBuf.length, 0)];
  for (const l of loads) {
    phdrs.push(phdr(1, 0, BigInt(at), l.vaddr ?? l.paddr, l.paddr, l.data.length, l.memsz ?? l.data.length, 0));
    at += l.data.length;
  }
  const shstrtab = Buffer.from('\0.shstrtab\0', 'latin1');
  const sh = Buffer.alloc(128);
  sh.writeUInt32LE(1, 64); // sh_name
  sh.writeUInt32LE(3, 64 + 4); // SHT_STRTAB
  sh.writeBigUInt64LE(BigInt(at), 64 + 24);
  sh.writeBigUInt64LE(BigInt(shstrtab.length), 64 + 32);
  const head = ehdr({ phoff, phnum, ehsize: 8, shoff, shnum: 2, shstrndx: 1 });
  return [head, sh, ...phdrs, noteBuf, ...loads.map((l) => l.data), shstrtab];
}

/**
 * A plain ELF core: header, phdrs at 0x40 (PT_NOTE first), notes, data at the
 * given offsets. `xnum`: e_phnum = PN_XNUM (0xffff) and the real count in
 * section header 0's sh_info, as QEMU writes cores with too many segments.
 */
export function elfCoreImage(
  loads: (Load & { offset?: number })[],
  notes: Note[] = [],
  opts: { cls?: number; phnum?: number; type?: number; xnum?: boolean } = {},
): Chunk[] {
  const phnum = 1 + loads.length;
  const noteBuf = noteBytes(notes);
  const notesAt = 64 + phnum * 56;
  let at = notesAt + noteBuf.length;
  const phdrs = [phdr(4, 0, BigInt(notesAt), 0n, 0n, noteBuf.length, 0, 4)];
  const data: Chunk[] = [];
  for (const l of loads) {
    const off = l.offset ?? at;
    phdrs.push(phdr(1, 7, BigInt(off), l.vaddr ?? l.paddr, l.paddr, l.data.length, l.memsz ?? l.data.length, 0));
    if (l.offset === undefined) {
      data.push(l.data);
      at += l.data.length;
    }
  }
  if (opts.xnum) {
    const sh0 = Buffer.alloc(64);
    sh0.writeUInt32LE(phnum, 44); // sh_info
    const head = ehdr({ phoff: 64, phnum: 0xffff, ehsize: 64, shoff: at, shnum: 1 });
    return [head, ...phdrs, noteBuf, ...data, sh0];
  }
  return [ehdr({ phoff: 64, phnum: opts.phnum ?? phnum, ehsize: 64, cls: opts.cls, type: opts.type }), ...phdrs, noteBuf, ...data];
}

// ---- /proc/kcore layout --------------------------------------------------

/** A test direct-map base chosen so every offset stays under ext4's 16 TiB file limit. */
export const KCORE_PAGE_OFFSET = 0xfffff80000000000n;
export const KCORE_TEXT_VADDR = 0xffffffff81000000n;

/**
 * A 5-level-paging layout as a real guest had it: PAGE_OFFSET (offset 0 of the
 * file's data) is 0xff11000000000000 and KASLR put the direct map
 * 0x2f3c4e00000000 above it, so RAM's p_offsets pass 2^53 and the kernel
 * text's is near 2^56. Only tmpfs holds such a (sparse) file.
 */
export const KCORE_LA57 = { pageOffset: 0xff11000000000000n, directMap: 0xff11000000000000n + 0x2f3c4e00000000n };

export interface KcoreFile {
  file: string;
  size: number;
  /** The page-granular RAM runs kcore has (walk_system_ram_range rounds each range inward). */
  ramRuns: Range[];
}

/**
 * A sparse file with the /proc/kcore layout (fs/proc/kcore.c): ELF header,
 * PT_NOTE (CORE PRSTATUS, PRPSINFO, TASKSTRUCT, VMCOREINFO), PT_LOADs for
 * the kernel text (p_paddr = its physical address; its bytes here are 0xee so
 * a reader that prefers the alias over RAM is caught), vmalloc and vmemmap
 * (p_paddr -1), and one per page-granular RAM run; p_offset = vaddr -
 * PAGE_OFFSET + data_offset, so the file is several TiB and almost all hole.
 */
export function writeKcoreFile(
  file: string,
  ranges: Range[],
  memory: MemoryOrSalt = 0,
  textPhys = 0x1000000,
  /** The kernel's VMCOREINFO text in PT_NOTE; null: none (kernels before 4.19). */
  vmcoreinfo: string | null = 'OSRELEASE=6.1.0-test\nPAGESIZE=4096\n',
  layout: { pageOffset: bigint; directMap: bigint } = { pageOffset: KCORE_PAGE_OFFSET, directMap: KCORE_PAGE_OFFSET },
): KcoreFile {
  const mem = memoryOf(memory);
  const ramRuns: Range[] = [];
  for (const r of ranges) {
    const first = Math.ceil(r.start / PAGE) * PAGE;
    const end = Math.floor((r.end + 1) / PAGE) * PAGE;
    if (end > first) ramRuns.push({ start: first, end: end - 1 });
  }
  const textSize = 0x10000;
  const big = (n: number) => BigInt(n);
  const entries: { vaddr: bigint; paddr: bigint; size: number; fill?: Buffer }[] = [
    { vaddr: KCORE_TEXT_VADDR, paddr: big(textPhys), size: textSize, fill: Buffer.alloc(textSize, 0xee) },
    { vaddr: layout.directMap + 0x40000000000n, paddr: NO_PADDR, size: 0x100000 },
    ...ramRuns.map((r) => ({ vaddr: layout.directMap + big(r.start), paddr: big(r.start), size: rangeLength(r) })),
    { vaddr: layout.directMap + 0x60000000000n, paddr: NO_PADDR, size: 0x200000 },
  ];
  const notes = noteBytes([
    { name: 'CORE', type: 1, desc: Buffer.alloc(336) },
    { name: 'CORE', type: 3, desc: Buffer.alloc(136) },
    { name: 'CORE', type: 4, desc: Buffer.alloc(9000, 0x11) },
    ...(vmcoreinfo === null ? [] : [{ name: 'VMCOREINFO', type: 0, desc: Buffer.from(vmcoreinfo, 'latin1') }]),
  ]);
  const phnum = 1 + entries.length;
  const notesAt = 64 + phnum * 56;
  const dataOffset = Math.ceil((notesAt + notes.length) / PAGE) * PAGE;
  const offsetOf = (vaddr: bigint) => vaddr - layout.pageOffset + big(dataOffset);
  const phdrs = [phdr(4, 0, big(notesAt), 0n, 0n, notes.length, 0, 0)];
  for (const e of entries) phdrs.push(phdr(1, 7, offsetOf(e.vaddr), e.vaddr, e.paddr, e.size, e.size, PAGE));
  const blocks: { at: bigint; bytes: Buffer }[] = [{ at: 0n, bytes: Buffer.concat([ehdr({ phoff: 64, phnum, ehsize: 64 }), ...phdrs, notes]) }];
  let end = 0n;
  for (const e of entries) {
    const bytes = e.fill ?? (e.paddr !== NO_PADDR ? mem(Number(e.paddr), e.size) : null);
    if (bytes) blocks.push({ at: offsetOf(e.vaddr), bytes });
    if (offsetOf(e.vaddr) + big(e.size) > end) end = offsetOf(e.vaddr) + big(e.size);
  }
  writeSparse64(file, blocks, end);
  return { file, size: Number(end), ramRuns };
}

/**
 * Writes `blocks` at 64-bit offsets into a sparse file of `size` bytes.
 * Node's write takes no position past 2^53 (a bigint one is silently
 * ignored), so python3's os.pwrite does it.
 */
export function writeSparse64(file: string, blocks: { at: bigint; bytes: Buffer }[], size: bigint): void {
  const script = [
    'import os, sys, struct',
    'data = sys.stdin.buffer.read()',
    'fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)',
    'os.ftruncate(fd, int(sys.argv[2]))',
    'i = 0',
    'while i < len(data):',
    '    at, n = struct.unpack_from("<QQ", data, i)',
    '    os.pwrite(fd, data[i + 16:i + 16 + n], at)',
    '    i += 16 + n',
    'os.close(fd)',
  ].join('\n');
  const input = Buffer.concat(
    blocks.flatMap(({ at, bytes }) => {
      const head = Buffer.alloc(16);
      head.writeBigUInt64LE(at, 0);
      head.writeBigUInt64LE(BigInt(bytes.length), 8);
      return [head, bytes];
    }),
  );
  execFileSync('python3', ['-c', script, file, size.toString()], { input });
}
