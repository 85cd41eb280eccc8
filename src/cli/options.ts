import { Command } from 'commander';
import { InputError } from '../errors';
import { SCAN_MODES, ScanMode } from '../kernel/harvest';
import { SessionOptions } from '../session';
import { FORMATS, parseFormat } from '../sources/detect';

/** The flags every command that opens a source takes, as commander hands them over. */
export interface SourceFlags {
  map?: string;
  cacheMb?: string;
  format?: string;
  repairLimeShift?: boolean;
  verify?: boolean;
  vmcoreinfo?: string;
  holes?: boolean;
}

export function withSourceOptions(cmd: Command): Command {
  return cmd
    .option('--map <file>', 'memory map of the machine: /proc/iomem text or its boot log (dmesg, journalctl -k, syslog); default for a headerless image: auto (found in the image)')
    .option('--cache-mb <n>', 'cache budget in MiB for decoded formats (AVML chunks); image files are read in place', '64')
    .option('--format <name>', `read the source as this format instead of detecting it: ${FORMATS.join(', ')}`)
    .option('--holes', 'padded without a map: serve sparse-file holes and all-zero runs of 1 MiB or more as holes, the rest as RAM')
    .option('--repair-lime-shift', 'LiME: serve ranges that start mid-page un-shifted (undo the LiME module\'s page-start copy)')
    .option('--verify', 'check AVML chunk CRCs while reading; a mismatch fails the read (EIO)')
    .option('--vmcoreinfo <mode>', "find the kernel's VMCOREINFO note in RAM: first (stop at the first copy consistent with the image), all (read all RAM, report every copy), off", 'first');
}

/** The flags, checked, as session options; a bad value is an InputError naming the flag. */
export function sessionOptions(flags: SourceFlags): SessionOptions {
  const vmcoreinfo = (flags.vmcoreinfo ?? 'first') as ScanMode;
  if (!SCAN_MODES.includes(vmcoreinfo)) throw new InputError(`--vmcoreinfo: expected one of ${SCAN_MODES.join(', ')}, got ${JSON.stringify(flags.vmcoreinfo)}`);
  const cacheMb = flags.cacheMb === undefined ? undefined : Number(flags.cacheMb);
  if (cacheMb !== undefined && !(Number.isInteger(cacheMb) && cacheMb >= 0)) {
    throw new InputError(`--cache-mb: expected a whole number of MiB, got ${JSON.stringify(flags.cacheMb)}`);
  }
  const format = flags.format === undefined ? undefined : parseFormat(flags.format);
  return { map: flags.map, cacheMb, format, repairLimeShift: flags.repairLimeShift, verify: flags.verify, holes: flags.holes, vmcoreinfo };
}

/** commander helper for repeatable options. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
