import { hex, InputError } from '../errors';
import {
  decodeElfHeader,
  decodeNotes,
  decodePhdr,
  E_PHENTSIZE,
  E_PHNUM,
  E_TYPE,
  EHDR_SIZE,
  EI_CLASS,
  EI_DATA,
  ELFCLASS64,
  ELFDATA2LSB,
  ElfNote,
  ElfPhdr,
  ET_CORE,
  NT_TASKSTRUCT,
  PHDR_SIZE,
  P_FILESZ,
  P_MEMSZ,
  P_OFFSET,
  P_PADDR,
  P_TYPE,
  P_VADDR,
  PN_XNUM,
  PT_LOAD,
  PT_NOTE,
  sectionZeroInfo,
  SHDR_SIZE,
} from '../formats/elf64';
import { u64Number } from '../formats/u64';
import { ByteSource, readAt } from '../io/byte-source';
import { appendAll, Segment, segmentRuns } from '../types';
import { ListedNotes } from './notes';
import type { GivenVmcoreinfo, ParsedImage } from './parsed';

/** Notes are small (per-CPU registers, VMCOREINFO); read at most this much of a PT_NOTE. */
const MAX_NOTES = 1 << 20;

/** The program header table as read (decoded one header at a time: a core can have a million) and the notes. */
export interface ElfCore {
  table: Buffer;
  phentsize: number;
  phnum: number;
  notes: ElfNote[];
}

/** Program header `i` of the core, decoded. */
export function phdrAt(core: ElfCore, i: number): ElfPhdr {
  return decodePhdr(core.table, i * core.phentsize, i);
}

/** Reads and checks the ELF header, the program header table and the notes. */
export async function readElfCore(image: ByteSource): Promise<ElfCore> {
  const fail = (msg: string): never => {
    throw new InputError(`${image.label}: ${msg}`);
  };
  const eh = await readAt(image, 0, EHDR_SIZE);
  if (eh.length < EHDR_SIZE) fail(`truncated ELF header: ${eh.length} of ${EHDR_SIZE} bytes`);
  const header = decodeElfHeader(eh);
  if (header.class !== ELFCLASS64)
    fail(`ELF class ${header.class}${header.class === 1 ? ' (ELF32)' : ''} at file offset ${hex(EI_CLASS)}: memview reads 64-bit ELF cores only`);
  if (header.data !== ELFDATA2LSB) fail(`ELF data encoding ${header.data} at file offset ${hex(EI_DATA)}: memview reads little-endian ELF cores only`);
  if (header.type !== ET_CORE) fail(`ELF type ${header.type} at file offset ${hex(E_TYPE)} is not a core file (expected ET_CORE ${ET_CORE})`);
  // e_ehsize is not checked: QEMU's dump-guest-memory writes 8 there.
  const phoff = checkedNumber(header.phoff, 'e_phoff', fail);
  const phentsize = header.phentsize;
  let phnum = header.phnum;
  if (phnum === PN_XNUM) {
    // Too many headers for e_phnum: the real count is section header 0's sh_info.
    if (header.shoff === 0n) {
      fail(
        `e_phnum is PN_XNUM (0xffff at file offset ${hex(E_PHNUM)}): the real program header count should be in section header 0, but e_shoff is 0 (there are no section headers)`,
      );
    }
    const shoff = checkedNumber(header.shoff, 'e_shoff', fail);
    const sh = await readAt(image, shoff, SHDR_SIZE);
    if (sh.length < SHDR_SIZE) fail(`e_phnum is PN_XNUM but section header 0 at file offset ${hex(shoff)} is past the end of the file`);
    phnum = sectionZeroInfo(sh);
  }
  if (phentsize < PHDR_SIZE) fail(`e_phentsize ${phentsize} at file offset ${hex(E_PHENTSIZE)} is below ${PHDR_SIZE}`);
  if (phnum === 0) fail('ELF core has no program headers');
  const tableEnd = phoff + phnum * phentsize;
  if (tableEnd > image.size) {
    fail(`program header table (${phnum} entries at file offset ${hex(phoff)}) ends at ${hex(tableEnd)}, past the end of the file (${hex(image.size)} bytes)`);
  }
  const table = await readAt(image, phoff, phnum * phentsize);
  const core: ElfCore = { table, phentsize, phnum, notes: [] };
  for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize + P_TYPE) === PT_NOTE) appendAll(core.notes, await readNotes(image, phdrAt(core, i)));
  return core;
}

function checkedNumber(v: bigint, what: string, fail: (msg: string) => never): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} 0x${v.toString(16)} is beyond any file`);
  return Number(v);
}

/** The notes of one PT_NOTE (formats/elf64.ts decodes them). */
async function readNotes(image: ByteSource, p: ElfPhdr): Promise<ElfNote[]> {
  if (p.offset >= BigInt(image.size)) return [];
  return decodeNotes(await readAt(image, Number(p.offset), Number(p.filesz < MAX_NOTES ? p.filesz : MAX_NOTES)));
}

/**
 * The VMCOREINFO note in the core's own PT_NOTE: /proc/kcore's is the running
 * kernel's (Linux 4.19+), QEMU's (-device vmcoreinfo) and kdump's the one the
 * kernel registered. Checked first, before any copy found by scanning RAM
 * (on a live system a scan can pick a freed copy).
 */
export function ownVmcoreinfo(image: ByteSource, core: ElfCore): GivenVmcoreinfo | undefined {
  const note = core.notes.find((n) => n.name === 'VMCOREINFO' && n.type === 0);
  return note && { text: note.desc.toString('latin1').replace(/\0+$/, ''), origin: `${image.label} PT_NOTE` };
}

/** /proc/kcore carries a CORE NT_TASKSTRUCT note (the reader's task), as drgn checks. */
export function isKcoreLayout(core: ElfCore): boolean {
  return core.notes.some((n) => n.name === 'CORE' && n.type === NT_TASKSTRUCT);
}

/** Where a PT_LOAD's bytes are, as numbers (all below 2^53). */
interface LoadFields {
  phys: number;
  memsz: number;
  filesz: number;
  offset: number;
}

/** A PT_LOAD's fields checked one by one, each failure named: for a header with a field at or past 2^53 or one that does not fit. */
function checkedLoad(image: ByteSource, p: ElfPhdr, fail: (msg: string) => never, offsetBase = 0n): LoadFields {
  const what = `PT_LOAD #${p.index} (p_paddr 0x${p.paddr.toString(16)})`;
  if (p.filesz > p.memsz) fail(`${what}: p_filesz 0x${p.filesz.toString(16)} exceeds p_memsz 0x${p.memsz.toString(16)}`);
  const end = p.paddr + p.memsz;
  if (end > BigInt(Number.MAX_SAFE_INTEGER)) {
    const where = `PT_LOAD #${p.index} at p_paddr 0x${p.paddr.toString(16)} with p_memsz 0x${p.memsz.toString(16)} ends at 0x${end.toString(16)}`;
    fail(`${where}, ${end > 1n << 64n ? 'past 2^64' : 'beyond 2^53'}: not a physical address range`);
  }
  const phys = Number(p.paddr);
  const memsz = Number(p.memsz);
  const filesz = Number(p.filesz);
  let offset = 0;
  if (filesz > 0) {
    if (p.offset < offsetBase) fail(`${what} p_offset 0x${p.offset.toString(16)} lies before the other RAM segments' data`);
    offset = checkedNumber(p.offset - offsetBase, `${what} p_offset`, fail);
    if (offset + filesz > image.size) {
      fail(`${what} has data at file offset ${hex(offset)}-${hex(offset + filesz - 1)}, past the end of the file (${hex(image.size)} bytes)`);
    }
  }
  return { phys, memsz, filesz, offset };
}

/** The fields of the PT_LOAD at `table[at]` read as numbers, or null when checkedLoad must look (a field past 2^53, or one that does not fit). */
function plainLoad(table: Buffer, at: number, imageSize: number): LoadFields | null {
  const phys = u64Number(table, at + P_PADDR);
  const memsz = u64Number(table, at + P_MEMSZ);
  const filesz = u64Number(table, at + P_FILESZ);
  const offset = u64Number(table, at + P_OFFSET);
  if (phys < 0 || memsz < 0 || filesz < 0 || filesz > memsz || phys + memsz > Number.MAX_SAFE_INTEGER) return null;
  if (filesz > 0 && (offset < 0 || offset + filesz > imageSize)) return null;
  return { phys, memsz, filesz, offset };
}

const isZeroU64 = (b: Buffer, at: number) => b.readUInt32LE(at) === 0 && b.readUInt32LE(at + 4) === 0;
const isNoPaddr = (b: Buffer, at: number) => b.readUInt32LE(at) === 0xffffffff && b.readUInt32LE(at + 4) === 0xffffffff;
/** p_vaddr at or above x86-64 __START_KERNEL_map (0xffffffff80000000): the kernel image, an alias of RAM. */
const isTextAlias = (b: Buffer, at: number) => b.readUInt32LE(at + 4) === 0xffffffff && b.readUInt32LE(at) >= 0x80000000;

/** The p_offset of a PT_LOAD with data in RAM (not p_paddr -1, not the kernel-image alias), or null. */
function ramDataOffset(table: Buffer, at: number): bigint | null {
  if (table.readUInt32LE(at + P_TYPE) !== PT_LOAD || isNoPaddr(table, at + P_PADDR) || isTextAlias(table, at + P_VADDR)) return null;
  return isZeroU64(table, at + P_FILESZ) ? null : table.readBigUInt64LE(at + P_OFFSET);
}

/**
 * Where the RAM (direct-map) PT_LOADs' data starts when it lies past 2^53:
 * /proc/kcore under 5-level paging (its offsets follow the KASLR base of the
 * direct map). Their offsets are then taken relative to it (FileSource.from);
 * 0 when every offset is a safe Number.
 */
export function ramOffsetBase(core: ElfCore): bigint {
  let lowest: bigint | undefined;
  let end = 0n;
  for (let i = 0; i < core.phnum; i++) {
    const at = i * core.phentsize;
    const offset = ramDataOffset(core.table, at);
    if (offset === null) continue;
    const last = offset + core.table.readBigUInt64LE(at + P_FILESZ);
    if (lowest === undefined || offset < lowest) lowest = offset;
    if (last > end) end = last;
  }
  if (lowest === undefined || end <= BigInt(Number.MAX_SAFE_INTEGER)) return 0n;
  return lowest & ~0xfffn;
}

/**
 * PT_LOAD segments by physical address, disjoint and sorted: p_paddr (u64)-1
 * is skipped, a p_filesz < p_memsz tail reads as zeros, and where segments
 * overlap, RAM wins over kernel-image aliases, then the earlier header wins.
 * One pass over the table's bytes: no object per header. Offsets are `image`
 * offsets: p_offset less `offsetBase` (ramOffsetBase).
 */
export function physicalSegments(image: ByteSource, core: ElfCore, offsetBase = 0n): { segments: Segment[]; notes: string[] } {
  const fail = (msg: string): never => {
    throw new InputError(`${image.label}: ${msg}`);
  };
  const notes: string[] = [];
  const { table, phentsize, phnum } = core;
  let loads = 0;
  const physical: number[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = i * phentsize;
    if (table.readUInt32LE(at + P_TYPE) !== PT_LOAD || isZeroU64(table, at + P_MEMSZ)) continue;
    loads++;
    if (!isNoPaddr(table, at + P_PADDR)) physical.push(i);
  }
  if (physical.length < loads) {
    notes.push(`skipped ${loads - physical.length} PT_LOADs with p_paddr -1 (not physical memory: vmalloc, vmemmap, modules)`);
  }
  if (physical.length === 0) fail('no PT_LOAD segment has a physical address');
  const first = physical[0] * phentsize;
  if (physical.every((i) => isZeroU64(table, i * phentsize + P_PADDR)) && (physical.length > 1 || !isZeroU64(table, first + P_VADDR))) {
    fail(`every PT_LOAD has p_paddr 0, so the physical address of the data is unknown ` + `(/proc/kcore of kernels before 4.11 writes no p_paddr)`);
  }
  // Candidates in priority order: RAM before kernel-image aliases, each in header order.
  const ram: Segment[] = [];
  const aliases: Segment[] = [];
  const ramOwner: number[] = [];
  const aliasOwner: number[] = [];
  const zeroTails = new ListedNotes('PT_LOADs with p_filesz < p_memsz');
  for (const i of physical) {
    const at = i * phentsize;
    const alias = isTextAlias(table, at + P_VADDR);
    if (alias && !isZeroU64(table, at + P_FILESZ)) {
      // /proc/kcore under 5-level paging: the kernel image's offset is its vaddr less the direct map's base, past 2^53.
      // It only aliases RAM that the direct-map segments serve.
      const fileOffset = table.readBigUInt64LE(at + P_OFFSET) - offsetBase;
      if (fileOffset < 0n || fileOffset > BigInt(Number.MAX_SAFE_INTEGER)) {
        notes.push(
          `PT_LOAD #${i} (p_paddr ${hex(u64Number(table, at + P_PADDR))}): kernel image at p_offset 0x${table.readBigUInt64LE(at + P_OFFSET).toString(16)}, past 2^53: not read (an alias of RAM the other segments serve)`,
        );
        continue;
      }
    }
    const f = (offsetBase === 0n ? plainLoad(table, at, image.size) : null) ?? checkedLoad(image, phdrAt(core, i), fail, offsetBase);
    const into = alias ? aliases : ram;
    const owner = alias ? aliasOwner : ramOwner;
    if (f.filesz > 0) {
      into.push({ phys: f.phys, length: f.filesz, offset: f.offset });
      owner.push(i);
    }
    if (f.memsz > f.filesz) {
      into.push({ phys: f.phys + f.filesz, length: f.memsz - f.filesz, offset: null });
      owner.push(i);
      zeroTails.add(
        () => `PT_LOAD #${i} (p_paddr ${hex(f.phys)}): p_filesz < p_memsz, ${hex(f.memsz - f.filesz)} bytes at ${hex(f.phys + f.filesz)} read as zeros`,
      );
    }
  }
  appendAll(notes, zeroTails.lines());
  const candidates = ram;
  appendAll(candidates, aliases);
  const owners = ramOwner;
  appendAll(owners, aliasOwner);
  if (disjointAscending(candidates)) return { segments: candidates, notes };
  const { segments, used } = resolveOverlaps(candidates);
  const lostRam = new ListedNotes('overlapping PT_LOADs');
  const lostAlias = new ListedNotes('kernel-image PT_LOADs that alias RAM');
  candidates.forEach((c, k) => {
    const lost = c.length - used[k];
    if (lost <= 0) return;
    const i = owners[k];
    if (isTextAlias(table, i * phentsize + P_VADDR))
      lostAlias.add(
        () => `PT_LOAD #${i} (kernel image at vaddr 0x${phdrAt(core, i).vaddr.toString(16)}) aliases RAM served by other segments: ${hex(lost)} bytes not used`,
      );
    else lostRam.add(() => `PT_LOAD #${i} overlaps earlier segments by ${hex(lost)} bytes: the earlier program header wins`);
  });
  appendAll(notes, lostRam.lines());
  appendAll(notes, lostAlias.lines());
  return { segments, notes };
}

/** Sorted by phys and disjoint as they are: nothing to resolve (the usual core). */
function disjointAscending(candidates: readonly Segment[]): boolean {
  for (let k = 1; k < candidates.length; k++) if (candidates[k].phys < candidates[k - 1].phys + candidates[k - 1].length) return false;
  return true;
}

/**
 * Each address goes to the first candidate (in the given priority order)
 * that covers it: one sweep over the sorted start and end points with a heap
 * of the candidates covering the current point, O(n log n) for a core of a
 * million program headers. Returns the segments, sorted by phys, and the
 * bytes each candidate got.
 */
function resolveOverlaps(candidates: readonly Segment[]): { segments: Segment[]; used: number[] } {
  const n = candidates.length;
  const used = new Array<number>(n).fill(0);
  const byStart = Array.from({ length: n }, (_, k) => k).sort((a, b) => candidates[a].phys - candidates[b].phys);
  const all = new Float64Array(2 * n);
  candidates.forEach((c, k) => {
    all[2 * k] = c.phys;
    all[2 * k + 1] = c.phys + c.length;
  });
  all.sort();
  let distinct = 0;
  for (let k = 0; k < all.length; k++) if (k === 0 || all[k] !== all[k - 1]) all[distinct++] = all[k];
  const points = all.subarray(0, distinct);
  const heap = new MinHeap();
  const segments: Segment[] = [];
  const owners: number[] = [];
  let next = 0;
  for (let p = 0; p + 1 < points.length; p++) {
    const x = points[p];
    while (next < n && candidates[byStart[next]].phys <= x) heap.push(byStart[next++]);
    while (heap.size > 0 && candidates[heap.top()].phys + candidates[heap.top()].length <= x) heap.pop();
    if (heap.size === 0) continue;
    const k = heap.top();
    const c = candidates[k];
    const to = points[p + 1];
    const last = segments[segments.length - 1];
    if (last && owners[owners.length - 1] === k && last.phys + last.length === x) last.length += to - x;
    else {
      segments.push({ phys: x, length: to - x, offset: c.offset === null ? null : c.offset + (x - c.phys) });
      owners.push(k);
    }
    used[k] += to - x;
  }
  return { segments, used };
}

/** A binary min-heap of candidate indexes (lower index: higher priority). */
class MinHeap {
  private readonly a: number[] = [];

  get size(): number {
    return this.a.length;
  }

  top(): number {
    return this.a[0];
  }

  push(v: number): void {
    const a = this.a;
    let i = a.push(v) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent] <= a[i]) break;
      [a[parent], a[i]] = [a[i], a[parent]];
      i = parent;
    }
  }

  pop(): void {
    const a = this.a;
    const last = a.pop()!;
    if (a.length === 0) return;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && a[l] < a[m]) m = l;
      if (r < a.length && a[r] < a[m]) m = r;
      if (m === i) break;
      [a[m], a[i]] = [a[i], a[m]];
      i = m;
    }
  }
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
export async function parseElf(image: ByteSource, known?: ElfCore): Promise<ParsedImage> {
  const core = known ?? (await readElfCore(image));
  const { segments, notes } = physicalSegments(image, core);
  return {
    ranges: segmentRuns(segments),
    segments,
    vmcoreinfo: ownVmcoreinfo(image, core),
    mapOrigin: `ELF PT_LOAD p_paddr (${coreFlavour(core.notes)})`,
    notes: [...describeNotes(core.notes), ...notes],
  };
}
