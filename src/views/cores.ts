import { PieceTable } from '../engine/piece-table';
import { KernelHarvest, KernelImage } from '../kernel/harvest';
import { MergedRange } from '../maps/ranges';
import { Source } from '../sources/source';
import { VIEW, ViewName } from './names';
import { rangeEnd } from '../types';
import { NO_PADDR } from '../formats/elf64';
import { ElfAlias, elfCoreTable, physicalElfLoads, physicalLoads, prstatusNote } from './elf';
import { rowsHint } from './ram-pieces';

/** A view before it becomes a VirtualFile (index.ts makes it one). */
export interface ViewSpec {
  name: ViewName;
  description: string;
  table: PieceTable;
  notes?: string[];
}

/**
 * PT_LOADs with p_paddr = -1 that map the kernel image's virtual range onto
 * the file bytes of the physical loads (like kdump's kernel-text segment):
 * a debugger can then read swapper_pg_dir and walk the kernel's page tables.
 */
export function kernelAliases(loads: readonly MergedRange[], image: KernelImage): ElfAlias[] {
  const end = image.phys + image.length;
  const aliases: ElfAlias[] = [];
  for (const l of loads) {
    const from = Math.max(l.start, image.phys);
    const to = Math.min(rangeEnd(l), end);
    if (from < to) aliases.push({ vaddr: image.virt + BigInt(from - image.phys), paddr: NO_PADDR, length: to - from, sharesPaddr: from });
  }
  return aliases;
}

/**
 * memory.elf (physical core for analysis frameworks) and, when the kernel's
 * VMCOREINFO note was found and places the kernel in RAM, vmcore (the same
 * plus the kernel image's virtual range, for drgn, crash and gdb).
 */
export function coreViews(source: Source, kernel: KernelHarvest | undefined): ViewSpec[] {
  const { loads, notes } = physicalLoads(source.ranges);
  const physical = physicalElfLoads(source.segments, loads);
  const rows = rowsHint(source.segments, source.ranges) + 2 * loads.length;
  const chosen = kernel?.chosen ?? null;
  const coreNotes = Buffer.concat([prstatusNote(), chosen ? chosen.note.note : Buffer.alloc(0)]);
  const report = kernel ? kernel.report : ['VMCOREINFO not scanned: memory.elf carries no kernel note'];
  const views: ViewSpec[] = [
    {
      name: VIEW.elf,
      description: 'ELF64 core, page-rounded PT_LOADs by physical address (Volatility, MemProcFS, crash)',
      table: elfCoreTable(coreNotes, physical, [], rows),
      notes: [...notes, ...report],
    },
  ];
  const aliases = chosen?.image ? kernelAliases(loads, chosen.image) : [];
  if (aliases.length > 0) {
    views.push({
      name: VIEW.vmcore,
      description: 'ELF64 core like /proc/vmcore: memory.elf + the kernel image mapped virtually (drgn, crash, gdb)',
      table: elfCoreTable(coreNotes, physical, aliases, rows),
      notes: [
        `${aliases.length} PT_LOAD(s) with p_paddr -1 map kernel virtual ${'0x' + chosen!.image!.virt.toString(16)} (phys ${'0x' + chosen!.image!.phys.toString(16)}) onto the RAM bytes`,
      ],
    });
  }
  return views;
}
