import { Command } from 'commander';
import { InputError } from '../errors';
import { SCAN_MODES, ScanMode } from '../kernel/harvest';
import { SessionOptions } from '../session';
import { FORMATS, parseFormat } from '../sources/detect';
import { REMOTE_SCAN_MB } from '../sources/open';
import { RemoteSource } from '../io/remote-source';
import { remoteProgress } from './remote-progress';

/** The flags every command that opens a source takes, as commander hands them over. */
export interface SourceFlags {
  map?: string;
  cacheMb?: string;
  format?: string;
  repairLimeShift?: boolean;
  verify?: boolean;
  vmcoreinfo?: string;
  holes?: boolean;
  s3Endpoint?: string;
  remoteScanMb?: string;
}

const MiB = 1024 * 1024;

function wholeMiB(flag: string, value: string | undefined): number | undefined {
  const n = value === undefined ? undefined : Number(value);
  if (n !== undefined && !(Number.isInteger(n) && n >= 0)) throw new InputError(`${flag}: expected a whole number of MiB, got ${JSON.stringify(value)}`);
  return n;
}

export function withSourceOptions(cmd: Command): Command {
  return cmd
    .option(
      '--map <file>',
      'memory map of the machine: /proc/iomem text or its boot log (dmesg, journalctl -k, syslog), a path or a URL; default for a headerless image: auto (found in the image)',
    )
    .option(
      '--cache-mb <n>',
      'cache budget in MiB for decoded formats (AVML chunks), and for the bytes fetched of a remote source; local image files are read in place',
      '64',
    )
    .option('--s3-endpoint <url>', 's3:// sources: an S3-compatible store (default: AWS_ENDPOINT_URL, else AWS)')
    .option(
      '--remote-scan-mb <n>',
      `remote sources: the bytes each whole-image scan (VMCOREINFO search, --map auto) may fetch, in MiB (default ${REMOTE_SCAN_MB})`,
    )
    .option('--format <name>', `read the source as this format instead of detecting it: ${FORMATS.join(', ')}`)
    .option('--holes', 'padded without a map: serve sparse-file holes and all-zero runs of 1 MiB or more as holes, the rest as RAM')
    .option('--repair-lime-shift', "LiME: serve ranges that start mid-page un-shifted (undo the LiME module's page-start copy)")
    .option('--verify', 'check AVML chunk CRCs while reading; a mismatch fails the read (EIO)')
    .option(
      '--vmcoreinfo <mode>',
      "find the kernel's VMCOREINFO note in RAM: first (stop at the first copy consistent with the image), all (read all RAM, report every copy), off",
      'first',
    );
}

/** The flags, checked, as session options; a bad value is an InputError naming the flag. */
export function sessionOptions(flags: SourceFlags): SessionOptions {
  const vmcoreinfo = (flags.vmcoreinfo ?? 'first') as ScanMode;
  if (!SCAN_MODES.includes(vmcoreinfo)) throw new InputError(`--vmcoreinfo: expected one of ${SCAN_MODES.join(', ')}, got ${JSON.stringify(flags.vmcoreinfo)}`);
  const cacheMb = wholeMiB('--cache-mb', flags.cacheMb);
  const scanMb = wholeMiB('--remote-scan-mb', flags.remoteScanMb) ?? REMOTE_SCAN_MB;
  const format = flags.format === undefined ? undefined : parseFormat(flags.format);
  // A remote source shows on a terminal what opening it fetches (the scans), until the session is open.
  let endProgress = () => {};
  return {
    map: flags.map,
    cacheMb,
    format,
    repairLimeShift: flags.repairLimeShift,
    verify: flags.verify,
    holes: flags.holes,
    vmcoreinfo,
    remote: { s3Endpoint: flags.s3Endpoint },
    remoteScanBytes: scanMb * MiB,
    notify: (line) => process.stderr.write(`memview: ${line}\n`),
    onRemoteOpen: (r: RemoteSource) => {
      endProgress = remoteProgress(process.stderr, r.label, r.stats, 'opening');
    },
    onOpened: () => endProgress(),
  };
}

/** commander helper for repeatable options. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
