/**
 * A synthetic kernel machine (helpers/kernel.ts) that makedumpfile accepts:
 * besides the VMCOREINFO note, makedumpfile reads the kernel's page
 * descriptors (struct page) through SPARSEMEM_EXTREME's mem_section table to
 * decide what a dump level excludes, and fails without them. This machine has
 * the table (one root, sections 0 and 32 present) and zeroed struct pages
 * (flags 0: no page is cache, user or free). Independent of src/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { kernelMachine, KernelMachine, Patch, START_KERNEL_MAP, writeKernelMachine } from './kernel';
import { MachineFiles } from './machine';
import { memview, run } from './cli';

const SIZE_PAGE = 64n;
const SECTION_PAGES = 1n << 15n; // SECTION_SIZE_BITS 27, 4 KiB pages
/** SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP */
const SECTION_FLAGS = 3n;

export interface DumpableMachine {
  km: KernelMachine;
  extra: Patch[];
}

export function dumpableMachine(): DumpableMachine {
  const base = kernelMachine();
  const textPhys = base.text.phys;
  const virt = (phys: number) => BigInt(phys) - base.physBase + START_KERNEL_MAP;
  // Offsets inside the 4 MiB kernel image (the only kernel-virtual mapping the machine's page tables have).
  const memSection = textPhys + 0x38e0a0; // SYMBOL(mem_section) of kernelMachine's note
  const sectionArray = textPhys + 0x3a0000;
  const memMap0 = textPhys; // 32768 struct pages of section 0: 2 MiB
  const memMap32 = textPhys + 0x3b0000; // section 32 (4 GiB): 512 pages of RAM, 32 KiB
  const root = Buffer.alloc(2048 * 8);
  root.writeBigUInt64LE(virt(sectionArray), 0);
  const sections = Buffer.alloc(4096);
  // section_mem_map holds mem_map - section_start_pfn * sizeof(struct page) (sparse_encode_mem_map).
  sections.writeBigUInt64LE(virt(memMap0) | SECTION_FLAGS, 0);
  sections.writeBigUInt64LE(BigInt.asUintN(64, virt(memMap32) - 32n * SECTION_PAGES * SIZE_PAGE) | SECTION_FLAGS, 32 * 16);
  const noteText =
    base.noteText +
    ['OFFSET(page.mapping)=24', 'OFFSET(page.lru)=8', 'OFFSET(page._mapcount)=48', 'OFFSET(page.private)=40', 'OFFSET(page.compound_head)=8', ''].join('\n');
  return {
    km: kernelMachine({ noteText }),
    extra: [
      { phys: memMap0, data: Buffer.alloc(0x200000) },
      { phys: memSection, data: root },
      { phys: sectionArray, data: sections },
      { phys: memMap32, data: Buffer.alloc(0x8000) },
    ],
  };
}

export interface MakedumpfileFixtures {
  machine: DumpableMachine;
  files: MachineFiles;
  /** memview's vmcore view of the machine, exported: makedumpfile's input. */
  vmcore: string;
  /** name -> dump file */
  dumps: Record<string, string>;
}

/** The makedumpfile runs the tests use: zlib, lzo, dump level 31, flattened (-F writes to stdout). */
export const MAKEDUMPFILE_RUNS: Record<string, string[]> = {
  'zlib-d0': ['-c', '-d', '0'],
  'lzo-d31': ['-l', '-d', '31'],
  'zlib-d31': ['-c', '-d', '31'],
  'flat-zlib-d31': ['-F', '-c', '-d', '31'],
  'flat-lzo-d31': ['-F', '-l', '-d', '31'],
};

/** Writes the machine, exports memview's vmcore view of it, runs makedumpfile on that. */
export async function makedumpfileFixtures(dir: string): Promise<MakedumpfileFixtures> {
  const machine = dumpableMachine();
  const files = writeKernelMachine(path.join(dir, 'machine'), machine.km, machine.extra);
  const vmcore = path.join(dir, 'vmcore');
  const r = await memview('export', files.raw, '--map', files.iomem, '--view', 'vmcore', '-o', vmcore);
  if (r.code !== 0) throw new Error(`memview export vmcore: ${r.stderr}`);
  const dumps: Record<string, string> = {};
  for (const [name, args] of Object.entries(MAKEDUMPFILE_RUNS)) {
    const out = path.join(dir, `${name}.kdump`);
    if (args[0] === '-F') {
      const m = await run('makedumpfile', [...args, vmcore], { encoding: 'latin1' });
      if (m.code !== 0) throw new Error(`makedumpfile ${args.join(' ')}: ${m.stderr}`);
      fs.writeFileSync(out, Buffer.from(m.stdout, 'latin1'));
    } else {
      const m = await run('makedumpfile', [...args, vmcore, out]);
      if (m.code !== 0 || !fs.existsSync(out)) throw new Error(`makedumpfile ${args.join(' ')}: ${m.stderr}`);
    }
    dumps[name] = out;
  }
  return { machine, files, vmcore, dumps };
}
