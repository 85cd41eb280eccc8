/**
 * Fixture writer for a synthetic x86-64 Linux machine whose RAM carries what
 * a real kernel leaves there for debuggers: the VMCOREINFO ELF note
 * (kernel/crash_core.c: Elf64_Nhdr{11, descsz, 0}, "VMCOREINFO\0" padded to
 * 12, `KEY=VALUE\n` text), the text-only vmcoreinfo_data page next to it,
 * `init_uts_ns` (struct new_utsname: six 65-byte fields), and a 4-level page
 * table at swapper_pg_dir mapping the kernel image with 2 MiB pages and the
 * direct map (page_offset_base) with 1 GiB pages, its vmalloc-area entries
 * pointing at preallocated all-zero tables as on real kernels. Address arithmetic follows
 * arch/x86: virt = phys - phys_base + __START_KERNEL_map. Independent of src/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MachineFiles, physicalBytes, Range, rangeLength, writeMachine } from './machine';

export const START_KERNEL_MAP = 0xffffffff80000000n;
/** Non-KASLR page_offset_base (direct map of all physical memory). */
export const PAGE_OFFSET = 0xffff888000000000n;
const PAGE = 0x1000;
/** Non-KASLR vmalloc_base; the area is 32 TiB: 64 PGD entries under 4-level paging. */
const VMALLOC_START = 0xffffc90000000000n;
const VMALLOC_PGD_ENTRIES = 64;
const PTE_TABLE = 0x63n; // present, writable, accessed, dirty
const PTE_LARGE = 0x1e3n; // + PSE (huge page) + global

export interface Patch {
  phys: number;
  data: Buffer;
}

export interface KernelOptions {
  /** Physical address of _text (the kernel's load address). */
  textPhys?: number;
  /** KERNELOFFSET: the KASLR virtual slide. */
  kernelOffset?: bigint;
  osrelease?: string;
  /** Physical page of the VMCOREINFO note; null: the RAM holds no note. */
  notePhys?: number | null;
  /** Writes this NUMBER(phys_base) into the note instead of the true one. */
  notePhysBase?: bigint;
  /** Replaces the note's whole text. */
  noteText?: string;
  ranges?: Range[];
  salt?: number;
}

export interface KernelMachine {
  ranges: Range[];
  salt: number;
  patches: Patch[];
  osrelease: string;
  physBase: bigint;
  kernelOffset: bigint;
  imageSize: number;
  text: { phys: number; virt: bigint; length: number };
  symbols: { _stext: bigint; init_uts_ns: bigint; swapper_pg_dir: bigint };
  /** The new_utsname bytes placed at init_uts_ns. */
  uts: Buffer;
  notePhys: number | null;
  noteText: string;
  /** A direct-map virtual address and the physical address it maps. */
  directMapProbe: { virt: bigint; phys: number };
}

/** Default machine (small, so tests stay fast): low RAM, 9 MiB from 1 MiB holding the kernel at 4 MiB, 2 MiB above 4 GiB. */
export const KERNEL_RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x9fffff },
  { start: 0x100000000, end: 0x1001fffff },
];

export function hex64(v: bigint): string {
  return BigInt.asUintN(64, v).toString(16);
}

/** One ELF note (namesz, descsz, type, name + NUL padded to 4, desc padded to 4). */
export function elfNoteBytes(name: string, type: number, desc: Buffer, descsz = desc.length): Buffer {
  const up4 = (n: number) => Math.ceil(n / 4) * 4;
  const nameBytes = Buffer.from(name + '\0', 'latin1');
  const out = Buffer.alloc(12 + up4(nameBytes.length) + up4(desc.length));
  out.writeUInt32LE(nameBytes.length, 0);
  out.writeUInt32LE(descsz, 4);
  out.writeUInt32LE(type, 8);
  nameBytes.copy(out, 12);
  desc.copy(out, 12 + up4(nameBytes.length));
  return out;
}

/** The kernel's vmcoreinfo_note buffer: the note, then the terminating empty note (12 zero bytes). */
export function vmcoreinfoNoteBytes(text: string, descsz?: number): Buffer {
  return Buffer.concat([elfNoteBytes('VMCOREINFO', 0, Buffer.from(text, 'latin1'), descsz), Buffer.alloc(12)]);
}

function utsname(release: string, version: string): Buffer {
  const fields = ['Linux', 'memview-test', release, version, 'x86_64', '(none)'];
  const b = Buffer.alloc(6 * 65);
  fields.forEach((f, i) => b.write(f, i * 65, 'latin1'));
  return b;
}

export function kernelMachine(opts: KernelOptions = {}): KernelMachine {
  const ranges = opts.ranges ?? KERNEL_RANGES;
  const textPhys = opts.textPhys ?? 0x400000; // CONFIG_PHYSICAL_START=0x400000
  const kernelOffset = opts.kernelOffset ?? 0x2e000000n;
  const osrelease = opts.osrelease ?? '6.1.0-13-amd64';
  const imageSize = 1 << 30; // KERNEL_IMAGE_SIZE with CONFIG_RANDOMIZE_BASE
  const textLength = 0x400000; // _text.._end: 4 MiB, two 2 MiB pages
  const textVirt = START_KERNEL_MAP + 0x1000000n + kernelOffset;
  const physBase = BigInt(textPhys) - (textVirt - START_KERNEL_MAP);
  const virt = (phys: number) => BigInt(phys) - physBase + START_KERNEL_MAP;
  const pgdPhys = textPhys + 0x200000;
  const pudKernelPhys = pgdPhys + PAGE;
  const pmdKernelPhys = pgdPhys + 2 * PAGE;
  const pudDirectPhys = pgdPhys + 3 * PAGE;
  const utsPhys = textPhys + 0x313fe0; // straddles a page boundary on purpose
  const symbols = { _stext: textVirt, init_uts_ns: virt(utsPhys), swapper_pg_dir: virt(pgdPhys) };
  const uts = utsname(osrelease, '#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)');

  const patches: Patch[] = [];
  const table = (phys: number, entries: [number, bigint][]) => {
    const page = Buffer.alloc(PAGE);
    for (const [i, e] of entries) page.writeBigUInt64LE(e, i * 8);
    patches.push({ phys, data: page });
  };
  const idx = (v: bigint, shift: bigint) => Number((v >> shift) & 511n);
  // As on a real x86-64 kernel since 5.x (preallocate_vmalloc_pages): the vmalloc area's 64 PGD
  // entries point at PUD tables allocated at boot, all zeros until something is vmapped there.
  const vmalloc: [number, bigint][] = [];
  for (let k = 0; k < VMALLOC_PGD_ENTRIES; k++) {
    const pud = pgdPhys + (4 + k) * PAGE;
    table(pud, []);
    vmalloc.push([idx(VMALLOC_START, 39n) + k, BigInt(pud) | PTE_TABLE]);
  }
  table(pgdPhys, [[idx(textVirt, 39n), BigInt(pudKernelPhys) | PTE_TABLE], [idx(PAGE_OFFSET, 39n), BigInt(pudDirectPhys) | PTE_TABLE], ...vmalloc]);
  table(pudKernelPhys, [[idx(textVirt, 30n), BigInt(pmdKernelPhys) | PTE_TABLE]]);
  const pmd: [number, bigint][] = [];
  for (let off = 0; off < textLength; off += 0x200000) pmd.push([idx(textVirt + BigInt(off), 21n), BigInt(textPhys + off) | PTE_LARGE]);
  table(pmdKernelPhys, pmd);
  const gib: [number, bigint][] = [];
  for (let i = 0; i < 8; i++) gib.push([idx(PAGE_OFFSET, 30n) + i, (BigInt(i) << 30n) | PTE_LARGE]);
  table(pudDirectPhys, gib);
  patches.push({ phys: utsPhys, data: uts });

  const noteText =
    opts.noteText ??
    [
      `OSRELEASE=${osrelease}`,
      'BUILD-ID=4bd2b63a5ed52b0a9a1fe38c1b00e48d2f6f5b1c',
      `PAGESIZE=${PAGE}`,
      `SYMBOL(init_uts_ns)=${hex64(symbols.init_uts_ns)}`,
      'OFFSET(uts_namespace.name)=0',
      `SYMBOL(node_online_map)=${hex64(virt(textPhys + 0x31b0a8))}`,
      `SYMBOL(swapper_pg_dir)=${hex64(symbols.swapper_pg_dir)}`,
      `SYMBOL(_stext)=${hex64(symbols._stext)}`,
      `SYMBOL(vmap_area_list)=${hex64(virt(textPhys + 0x34c3d0))}`,
      `SYMBOL(mem_section)=${hex64(virt(textPhys + 0x38e0a0))}`,
      'LENGTH(mem_section)=2048',
      'SIZE(mem_section)=16',
      'OFFSET(mem_section.section_mem_map)=0',
      'NUMBER(SECTION_SIZE_BITS)=27',
      'NUMBER(MAX_PHYSMEM_BITS)=46',
      'SIZE(page)=64',
      'OFFSET(page.flags)=0',
      'OFFSET(page._refcount)=52',
      'NUMBER(PG_lru)=4',
      'NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129',
      `NUMBER(phys_base)=${opts.notePhysBase ?? physBase}`,
      `SYMBOL(init_top_pgt)=${hex64(symbols.swapper_pg_dir)}`,
      'NUMBER(pgtable_l5_enabled)=0',
      `KERNELOFFSET=${kernelOffset.toString(16)}`,
      `NUMBER(KERNEL_IMAGE_SIZE)=${imageSize}`,
      'NUMBER(sme_mask)=0',
      '',
    ].join('\n');
  const notePhys = opts.notePhys === undefined ? textPhys + 0x53f000 : opts.notePhys; // a page allocated after _end
  if (notePhys !== null) {
    const page = Buffer.alloc(PAGE);
    vmcoreinfoNoteBytes(noteText).copy(page);
    patches.push({ phys: notePhys, data: page });
    // vmcoreinfo_data: the same text without a note header (must not count as a note).
    const data = Buffer.alloc(PAGE);
    data.write(noteText, 'latin1');
    patches.push({ phys: notePhys - PAGE, data });
  }
  return {
    ranges,
    salt: opts.salt ?? 0x6b6b,
    patches,
    osrelease,
    physBase,
    kernelOffset,
    imageSize,
    text: { phys: textPhys, virt: textVirt, length: textLength },
    symbols,
    uts,
    notePhys,
    noteText,
    directMapProbe: { virt: PAGE_OFFSET + 0x100000000n + 0x1234n, phys: 0x100001234 },
  };
}

/** The physical offset of `phys` in a raw image (RAM ranges concatenated), or -1 outside RAM. */
function rawOffset(ranges: Range[], phys: number): number {
  let offset = 0;
  for (const r of ranges) {
    if (phys >= r.start && phys <= r.end) return offset + (phys - r.start);
    offset += rangeLength(r);
  }
  return -1;
}

function applyPatches(rawPath: string, km: { ranges: Range[] }, patches: Patch[]): void {
  const fd = fs.openSync(rawPath, 'r+');
  try {
    for (const p of patches) {
      for (let i = 0; i < p.data.length;) {
        const at = rawOffset(km.ranges, p.phys + i);
        if (at < 0) throw new Error(`fixture patch at 0x${(p.phys + i).toString(16)} is outside RAM`);
        const r = km.ranges.find((x) => p.phys + i >= x.start && p.phys + i <= x.end)!;
        const n = Math.min(p.data.length - i, r.end + 1 - (p.phys + i));
        fs.writeSync(fd, p.data, i, n, at);
        i += n;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes raw (RAM concatenated, with the kernel's structures) + iomem. */
export function writeKernelMachine(dir: string, km: KernelMachine, extra: Patch[] = []): MachineFiles {
  const files = writeMachine(dir, km.ranges, km.salt);
  applyPatches(files.raw, km, [...km.patches, ...extra]);
  return files;
}

/**
 * Writes a raw image whose RAM is all zeros (a sparse file: holes) except the
 * kernel's structures: for measuring mount time on big machines cheaply.
 */
export function writeSparseKernelMachine(dir: string, km: KernelMachine): { raw: string; iomem: string } {
  fs.mkdirSync(dir, { recursive: true });
  const raw = path.join(dir, 'sparse.raw');
  const iomem = path.join(dir, 'sparse.iomem');
  fs.writeFileSync(raw, '');
  fs.truncateSync(
    raw,
    km.ranges.reduce((n, r) => n + rangeLength(r), 0),
  );
  applyPatches(raw, km, km.patches);
  const h = (n: number) => n.toString(16).padStart(8, '0');
  fs.writeFileSync(iomem, km.ranges.map((r) => `${h(r.start)}-${h(r.end)} : System RAM\n`).join(''));
  return { raw, iomem };
}

/** Reference bytes of physical [start, start+length) for a machine written by writeKernelMachine. */
export function kernelPhysical(km: KernelMachine, start: number, length: number, extra: Patch[] = []): Buffer {
  const out = physicalBytes(km.ranges, start, length, km.salt);
  for (const p of [...km.patches, ...extra]) {
    for (let i = 0; i < p.data.length; i++) {
      const a = p.phys + i;
      if (a >= start && a < start + length && km.ranges.some((r) => a >= r.start && a <= r.end)) out[a - start] = p.data[i];
    }
  }
  return out;
}
