import { appendPhysical } from '../engine/physical';
import { PieceTable, PieceTableBuilder } from '../engine/piece-table';
import { hex } from '../errors';
import { MergedRange, mergeSmallestGaps, roundOutToPages } from '../maps/ranges';
import { EHDR_SIZE, encodeCoreHeader, encodeNote, encodePhdr, NT_PRSTATUS, PF_RWX, PHDR_SIZE, PT_LOAD, PT_NOTE } from '../formats/elf64';
import { PAGE, RamRange, rangeEnd, Segment } from '../types';

/** sizeof(struct elf_prstatus) on x86-64: what Volatility 2 and crash expect in a CORE note. */
export const X86_64_PRSTATUS_SIZE = 336;
/** LeechCore reads e_phoff..0x2000: (0x2000 - 0x40) / 56 = 145 program headers at most. */
export const MAX_PHDRS = 145;

export interface ElfLoad {
  /** Physical address of the segment (also p_vaddr unless `vaddr` is given). */
  paddr: number;
  vaddr?: number | bigint;
  length: number;
  /** Appends the segment's bytes: exactly `length` of them. */
  append(out: PieceTableBuilder): void;
}

/**
 * A PT_LOAD with no bytes of its own: its p_offset points at the file bytes
 * already placed for physical `sharesPaddr` (which must lie inside one load).
 * kdump's kernel-text segments work this way; no data is duplicated.
 */
export interface ElfAlias {
  vaddr: bigint;
  paddr: bigint;
  length: number;
  sharesPaddr: number;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** `CORE` NT_PRSTATUS with a zeroed x86-64 elf_prstatus (no CPU state is known; Volatility 2 needs the note). */
export function prstatusNote(): Buffer {
  return encodeNote('CORE', NT_PRSTATUS, Buffer.alloc(X86_64_PRSTATUS_SIZE));
}

/**
 * An ELF64 ET_CORE: header, PT_NOTE first (p_align 4: drgn reads 8 as
 * 8-byte note headers), one PT_LOAD per load in the given order, then one
 * per alias; all headers and notes precede the data, and each load's data
 * starts on a page boundary in the file. `rows`: a hint of the row count.
 */
export function elfCoreTable(notes: Buffer, loads: readonly ElfLoad[], aliases: readonly ElfAlias[] = [], rows = 16): PieceTable {
  const phnum = 1 + loads.length + aliases.length;
  const notesOffset = EHDR_SIZE + phnum * PHDR_SIZE;
  let dataOffset = alignUp(notesOffset + notes.length, PAGE);
  const headers: Buffer[] = [
    encodeCoreHeader(phnum),
    encodePhdr({ type: PT_NOTE, flags: 0, offset: notesOffset, vaddr: 0n, paddr: 0n, size: notes.length, align: 4 }),
  ];
  const placed: { paddr: number; length: number; offset: number }[] = [];
  for (const load of loads) {
    headers.push(
      encodePhdr({
        type: PT_LOAD,
        flags: PF_RWX,
        offset: dataOffset,
        vaddr: BigInt(load.vaddr ?? load.paddr),
        paddr: BigInt(load.paddr),
        size: load.length,
        align: 0,
      }),
    );
    placed.push({ paddr: load.paddr, length: load.length, offset: dataOffset });
    dataOffset += alignUp(load.length, PAGE);
  }
  for (const a of aliases) {
    const home = placed.find((p) => p.paddr <= a.sharesPaddr && a.sharesPaddr + a.length <= p.paddr + p.length);
    if (!home) throw new Error(`ELF alias at ${hex(a.sharesPaddr)} (+${hex(a.length)}) is not inside one load`);
    headers.push(
      encodePhdr({
        type: PT_LOAD,
        flags: PF_RWX,
        offset: home.offset + (a.sharesPaddr - home.paddr),
        vaddr: a.vaddr,
        paddr: a.paddr,
        size: a.length,
        align: 0,
      }),
    );
  }
  const head = Buffer.concat([...headers, notes]);
  const out = new PieceTableBuilder(rows, head.length);
  out.bytes(head);
  out.zero(alignUp(head.length, PAGE) - head.length);
  loads.forEach((load, i) => {
    if (out.size !== placed[i].offset) throw new Error(`ELF load ${i} placed at ${hex(out.size)}, its header says ${hex(placed[i].offset)}`);
    load.append(out);
    out.zero(alignUp(load.length, PAGE) - load.length);
  });
  return out.build();
}

/** The physical PT_LOADs of a core and what had to be done to the map to get them. */
export interface PhysicalLoads {
  loads: MergedRange[];
  notes: string[];
}

/**
 * RAM ranges -> physical PT_LOADs: rounded outward to pages (LeechCore skips
 * unaligned loads), then joined across the smallest gaps until the header
 * table fits LeechCore's 8 KiB (`maxLoads` = 145 - 1 for the PT_NOTE).
 */
export function physicalLoads(ranges: readonly RamRange[], maxLoads = MAX_PHDRS - 1): PhysicalLoads {
  const rounded = roundOutToPages(ranges);
  const loads = mergeSmallestGaps(rounded, maxLoads);
  const notes: string[] = [];
  let widened = 0;
  for (const r of ranges) if (r.start % PAGE !== 0 || rangeEnd(r) % PAGE !== 0) widened++;
  if (widened > 0) notes.push(`${widened} RAM range(s) rounded outward to 4 KiB pages; the added bytes come from the source where it has them, else zeros`);
  if (loads.length < rounded.length) {
    let gapBytes = 0;
    let largest = 0;
    for (const l of loads) {
      for (let i = 1; i < l.members.length; i++) {
        const gap = l.members[i].start - rangeEnd(l.members[i - 1]);
        gapBytes += gap;
        largest = Math.max(largest, gap);
      }
    }
    notes.push(
      `${rounded.length} page-rounded RAM ranges exceed ${maxLoads} PT_LOADs (LeechCore reads at most ${MAX_PHDRS} program headers): ` +
        `joined across the ${rounded.length - loads.length} smallest gaps (${gapBytes} bytes, largest ${hex(largest)}), which read as zeros`,
    );
  }
  return { loads, notes };
}

/** A load's bytes: each member from the source (zeros where it has none), zeros in the gaps between members. */
function appendLoad(out: PieceTableBuilder, segments: readonly Segment[], load: MergedRange): void {
  let pos = load.start;
  for (const m of load.members) {
    out.zero(m.start - pos);
    appendPhysical(out, segments, m.start, rangeEnd(m));
    pos = rangeEnd(m);
  }
}

/** The physical loads as ElfLoads, p_vaddr = p_paddr (QEMU's non-paging convention). */
export function physicalElfLoads(segments: readonly Segment[], loads: readonly MergedRange[]): ElfLoad[] {
  return loads.map((l) => ({ paddr: l.start, length: l.length, append: (out) => appendLoad(out, segments, l) }));
}
