import * as path from 'node:path';
import { shellQuote } from '../errors';
import { KernelHarvest } from '../kernel/harvest';
import { Source } from '../sources/source';
import { crashArgsTooLong, rangeFilesLeftOut } from './helpers';
import { VIEW, ViewName } from './names';

/**
 * README.txt in the mount root: which file to give to which tool, with
 * command lines that work from the mount directory.
 */
export function readmeText(source: Source, harvest: KernelHarvest | undefined, names: readonly ViewName[]): string {
  const has = (n: ViewName) => names.includes(n);
  const kernel = harvest?.chosen;
  const lines = [
    `memview: views of ${source.path} (${source.format}), ${source.ranges.length} RAM range${source.ranges.length === 1 ? '' : 's'}.`,
    kernel
      ? `Kernel: Linux ${kernel.facts.osrelease} (its VMCOREINFO note, found in RAM, is in memory.elf${has(VIEW.vmcore) ? ' and vmcore' : ''}).`
      : 'Kernel: no usable VMCOREINFO note found in RAM (see info.json); drgn and crash will not recognise a kernel in memory.elf.',
    '',
    'Run these from this directory (cd into the mount). Files:',
    '  padded.raw        file offset = physical address',
    '  memory.lime       LiME, exact RAM ranges',
    '  leechcore.lime    LiME, ranges widened to whole pages (LeechCore/MemProcFS)',
    '  memory.elf        ELF core by physical address, page-rounded, <= 145 headers',
    ...(has(VIEW.vmcore) ? ['  vmcore            memory.elf + the kernel image at its virtual addresses'] : []),
    '  raw.bin + iomem.txt   RAM concatenated + its map',
    ...(has(VIEW.crashArgs) ? ['  ranges/*.bin      one file per RAM range; crash.args lists them with their addresses'] : []),
    ...(has(VIEW.memmap) ? ['  memprocfs.memmap  LeechCore memory map into the source image itself'] : []),
    '  info.json         source, map, views, and the kernel note search',
    '',
    'Volatility 3 (needs the ISF symbols of this kernel):',
    '  vol -f memory.elf linux.pslist.PsList        # or -f padded.raw, -f memory.lime',
    'Volatility 2 (needs a profile of this kernel):',
    '  vol.py -f memory.elf --profile=LinuxPROFILEx64 linux_pslist',
  ];
  if (has(VIEW.vmcore)) {
    lines.push(
      'drgn (no vmlinux needed to read memory; add debug info for symbols):',
      '  drgn -c vmcore',
      '  python3 -c "import drgn; p = drgn.program_from_core_dump(\'vmcore\'); print(p.read(ADDRESS, 64))"',
      'crash (with the vmlinux of this kernel, with debug info):',
      '  crash /path/to/vmlinux vmcore',
      '  crash --osrelease vmcore',
      'gdb (kernel image virtual addresses):',
      '  gdb /path/to/vmlinux -ex "core-file vmcore"',
    );
  } else {
    lines.push('drgn, crash and gdb: vmcore is not served (no usable VMCOREINFO note); memory.elf is a plain physical core.');
  }
  const leftOut = rangeFilesLeftOut(source.ranges);
  const tooLong = leftOut ? undefined : crashArgsTooLong(source.ranges);
  lines.push(
    'crash from the raw RAM ranges (no ELF):',
    ...(leftOut ? [`  (not here: ${leftOut})`] : ['  crash /path/to/vmlinux $(cat crash.args)', ...(tooLong ? [`  (cannot work here: ${tooLong})`] : [])]),
    'MemProcFS / LeechCore:',
    '  memprocfs -device memory.elf                  # or -device leechcore.lime, or -device padded.raw',
  );
  if (has(VIEW.memmap)) lines.push(`  memprocfs -device ${shellQuote(path.resolve(source.path))} -memmap memprocfs.memmap   # reads the source in place`);
  return lines.join('\n') + '\n';
}
