/**
 * The kernel's VMCOREINFO ELF note, as it sits in RAM (and in kdump cores).
 * Pure: Buffers in, facts out, no I/O.
 *
 * API (shared with the ELF/vmcore views):
 * - `VMCOREINFO_NEEDLE`: the bytes every valid in-RAM note contains right after
 *   its 12-byte Elf64_Nhdr: name "VMCOREINFO\0" padded to 12, then "OSRELEASE=".
 *   A scanner searches for it and calls `parseVmcoreinfoNoteAt(buf, hit - 12)`.
 * - `parseVmcoreinfoNoteAt(buf, at)`: one note whose Elf64_Nhdr starts at
 *   `buf[at]`, validated (namesz 11, type 0, name, printable text starting
 *   OSRELEASE=), or null. `note` is the whole note (header, name, desc, each
 *   padded to 4 bytes), ready to be copied into a PT_NOTE segment.
 * - `parseVmcoreinfoText(text)`: `KEY=VALUE` lines -> Map (first value wins).
 * - `kernelFacts(fields)`: OSRELEASE, PAGESIZE, KERNELOFFSET, NUMBER(phys_base),
 *   SYMBOL(swapper_pg_dir) as numbers/bigints, and the x86-64 physical address
 *   of the top-level page table when those are present.
 *
 * Note layout (include/uapi/linux/elf.h Elf64_Nhdr, kernel/crash_core.c):
 * u32 n_namesz (11), u32 n_descsz, u32 n_type (0), name, desc; name and desc
 * each padded to a multiple of 4. The desc is ASCII `KEY=VALUE\n` lines, the
 * first one always `OSRELEASE=`; the kernel keeps it within one page.
 */

import { NHDR_SIZE, notePadded } from '../formats/elf64';
import type { PageTableQuery } from './page-table';

const NAME = 'VMCOREINFO';
const NAMESZ = NAME.length + 1; // with its NUL
const NAME_PADDED = 12;
const NOTE_TYPE = 0;
/** The kernel's buffer is one page (VMCOREINFO_BYTES); allow larger pages. */
const MAX_DESCSZ = 64 * 1024;
const FIRST_KEY = 'OSRELEASE=';

export const VMCOREINFO_NEEDLE = Buffer.from(`${NAME}\0\0${FIRST_KEY}`, 'latin1');
/** Where the needle starts, counted from the note header. */
export const VMCOREINFO_NEEDLE_OFFSET = NHDR_SIZE;

/** x86-64 `__START_KERNEL_map`: kernel image virtual base before KASLR. */
export const X86_64_START_KERNEL_MAP = 0xffffffff80000000n;

export interface VmcoreinfoNote {
  /** Offset of the Elf64_Nhdr (base + index in the searched buffer). */
  offset: number;
  /** The whole note: header, padded name, padded desc. */
  note: Buffer;
  /** The descriptor text (KEY=VALUE lines), trailing NULs removed. */
  text: string;
  fields: Map<string, string>;
}

function printable(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c === 0x0a || (c >= 0x20 && c < 0x7f)) continue;
    // Trailing NULs are padding; a NUL followed by text is not.
    if (c === 0) {
      for (let j = i; j < end; j++) if (buf[j] !== 0) return false;
      return true;
    }
    return false;
  }
  return true;
}

/** A validated VMCOREINFO note whose header starts at `buf[at]`, or null. */
export function parseVmcoreinfoNoteAt(buf: Buffer, at: number, base = 0): VmcoreinfoNote | null {
  if (at < 0 || at + NHDR_SIZE + NAME_PADDED + FIRST_KEY.length > buf.length) return null;
  const namesz = buf.readUInt32LE(at);
  const descsz = buf.readUInt32LE(at + 4);
  const type = buf.readUInt32LE(at + 8);
  if (namesz !== NAMESZ || type !== NOTE_TYPE || descsz < FIRST_KEY.length || descsz > MAX_DESCSZ) return null;
  const nameAt = at + NHDR_SIZE;
  if (buf.toString('latin1', nameAt, nameAt + NAMESZ) !== `${NAME}\0`) return null;
  const descAt = nameAt + NAME_PADDED;
  const descEnd = descAt + descsz;
  if (descEnd > buf.length) return null;
  if (buf.toString('latin1', descAt, descAt + FIRST_KEY.length) !== FIRST_KEY) return null;
  if (!printable(buf, descAt, descEnd)) return null;
  const text = buf.toString('latin1', descAt, descEnd).replace(/\0+$/, '');
  const noteEnd = Math.min(buf.length, descAt + notePadded(descsz));
  const note = Buffer.alloc(NHDR_SIZE + NAME_PADDED + notePadded(descsz));
  buf.copy(note, 0, at, noteEnd);
  note.fill(0, descEnd - at); // padding is zero in a note we hand out
  return { offset: base + at, note, text, fields: parseVmcoreinfoText(text) };
}

/** `KEY=VALUE` lines -> Map. Lines without `=` are ignored; the first value of a key wins. */
export function parseVmcoreinfoText(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    if (!fields.has(key)) fields.set(key, line.slice(eq + 1));
  }
  return fields;
}

export interface KernelFacts {
  osrelease?: string;
  pageSize?: number;
  /** KERNELOFFSET (KASLR virtual offset of the kernel image). */
  kernelOffset?: bigint;
  /** NUMBER(phys_base): printed signed (%ld), can be negative under KASLR. */
  physBase?: bigint;
  /** SYMBOL(swapper_pg_dir): the runtime virtual address. */
  swapperPgDir?: bigint;
  /** x86-64: physical address of the top-level page table (swapper_pg_dir - __START_KERNEL_map + phys_base). */
  pageTablePhys?: number;
  /** x86-64 paging levels: 5 when NUMBER(pgtable_l5_enabled)=1, else 4. */
  pagingLevels?: 4 | 5;
  /** SYMBOL(_stext) and its physical address (_stext - __START_KERNEL_map + phys_base). */
  textVirt?: bigint;
  textPhys?: number;
}

const hexValue = (v: string | undefined): bigint | undefined =>
  v !== undefined && /^(0x)?[0-9a-fA-F]+$/.test(v.trim()) ? BigInt('0x' + v.trim().replace(/^0x/, '')) : undefined;
const decValue = (v: string | undefined): bigint | undefined => (v !== undefined && /^-?[0-9]+$/.test(v.trim()) ? BigInt(v.trim()) : undefined);

/** The numbers a reader needs, from parsed VMCOREINFO fields. */
export function kernelFacts(fields: ReadonlyMap<string, string>): KernelFacts {
  const facts: KernelFacts = {};
  facts.osrelease = fields.get('OSRELEASE');
  const pageSize = decValue(fields.get('PAGESIZE'));
  if (pageSize !== undefined) facts.pageSize = Number(pageSize);
  facts.kernelOffset = hexValue(fields.get('KERNELOFFSET'));
  facts.physBase = decValue(fields.get('NUMBER(phys_base)'));
  facts.swapperPgDir = hexValue(fields.get('SYMBOL(swapper_pg_dir)'));
  if (facts.swapperPgDir !== undefined && facts.physBase !== undefined && facts.swapperPgDir >= X86_64_START_KERNEL_MAP) {
    const phys = facts.swapperPgDir - X86_64_START_KERNEL_MAP + facts.physBase;
    if (phys >= 0n && phys < BigInt(Number.MAX_SAFE_INTEGER)) facts.pageTablePhys = Number(phys);
  }
  const l5 = fields.get('NUMBER(pgtable_l5_enabled)');
  if (l5 !== undefined) facts.pagingLevels = l5.trim() === '1' ? 5 : 4;
  facts.textVirt = hexValue(fields.get('SYMBOL(_stext)'));
  if (facts.textVirt !== undefined && facts.physBase !== undefined && facts.textVirt >= X86_64_START_KERNEL_MAP) {
    const phys = facts.textVirt - X86_64_START_KERNEL_MAP + facts.physBase;
    if (phys >= 0n && phys < BigInt(Number.MAX_SAFE_INTEGER)) facts.textPhys = Number(phys);
  }
  for (const k of Object.keys(facts) as (keyof KernelFacts)[]) if (facts[k] === undefined) delete facts[k];
  return facts;
}

/** What the page-table rule (page-table.ts) checks for this kernel, when the note names a page table. */
export function pageTableQuery(facts: KernelFacts): PageTableQuery | undefined {
  if (facts.pageTablePhys === undefined) return undefined;
  return {
    phys: facts.pageTablePhys,
    levels: facts.pagingLevels ?? 4,
    ...(facts.textVirt !== undefined && facts.textPhys !== undefined ? { probe: { name: '_stext', virt: facts.textVirt, phys: facts.textPhys } } : {}),
  };
}
