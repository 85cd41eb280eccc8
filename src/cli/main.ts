import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { SourceIOError } from '../io/byte-source';
import { human, InputError, shellQuote } from '../errors';
import { canonicalPath, checkFuseDevice, checkMountpoint, fileId, memviewFsname, mountedPaths, mountTable, MEMVIEW_FSTYPE } from '../fuse/mountpoint';
import { fusermount } from '../fuse/fusermount';
import { BACKENDS, mountFiles, parseBackend } from '../fuse/mount';
import { FORMATS, parseFormat } from '../sources/detect';
import { harvestKernel, SCAN_MODES, ScanMode } from '../kernel/harvest';
import { openSource, OpenOptions } from '../sources/open';
import { Source } from '../sources/source';
import { AUTO_MAP } from '../mapfind/map-auto';
import { buildViews, findView } from '../views/index';
import { describeSource } from '../views/info';
import { ExportError, exportFile, progressBar } from './export';
import { collect, mapCommand, MapFlags } from './map-command';

/** The version in memview's package.json (the nearest one above this file, in dist/ or not). */
function packageVersion(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')).version;
  }
  return 'unknown';
}

interface SourceFlags {
  map?: string;
  cacheMb?: string;
  format?: string;
  repairLimeShift?: boolean;
  verify?: boolean;
  vmcoreinfo?: string;
  holes?: boolean;
}

function sourceOptions(flags: SourceFlags): OpenOptions {
  const cacheMb = flags.cacheMb === undefined ? undefined : Number(flags.cacheMb);
  if (cacheMb !== undefined && !(Number.isInteger(cacheMb) && cacheMb >= 0)) {
    throw new InputError(`--cache-mb: expected a whole number of MiB, got ${JSON.stringify(flags.cacheMb)}`);
  }
  const format = flags.format === undefined ? undefined : parseFormat(flags.format);
  return { map: flags.map, cacheMb, format, repairLimeShift: flags.repairLimeShift, verify: flags.verify, holes: flags.holes };
}

function withSourceOptions(cmd: Command): Command {
  return cmd
    .option('--map <file>', 'memory map of the machine: /proc/iomem text or its boot log (dmesg, journalctl -k, syslog); default for a headerless image: auto (found in the image)')
    .option('--cache-mb <n>', 'cache budget in MiB for decoded formats (AVML chunks); image files are read in place', '64')
    .option('--format <name>', `read the source as this format instead of detecting it: ${FORMATS.join(', ')}`)
    .option('--holes', 'padded without a map: serve sparse-file holes and all-zero runs of 1 MiB or more as holes, the rest as RAM')
    .option('--repair-lime-shift', 'LiME: serve ranges that start mid-page un-shifted (undo the LiME module\'s page-start copy)')
    .option('--verify', 'check AVML chunk CRCs while reading; a mismatch fails the read (EIO)')
    .option('--vmcoreinfo <mode>', "find the kernel's VMCOREINFO note in RAM: first (stop at the first copy consistent with the image), all (read all RAM, report every copy), off", 'first');
}

/** Opens the source, then looks for the kernel's VMCOREINFO note in its RAM (memory.elf and vmcore carry it). */
async function openWithKernel(src: string, flags: SourceFlags): Promise<Source> {
  const mode = (flags.vmcoreinfo ?? 'first') as ScanMode;
  if (!SCAN_MODES.includes(mode)) throw new InputError(`--vmcoreinfo: expected one of ${SCAN_MODES.join(', ')}, got ${JSON.stringify(flags.vmcoreinfo)}`);
  const source = await openSource(src, sourceOptions(flags));
  try {
    source.kernel = await harvestKernel(source, mode);
  } catch (e) {
    source.close();
    throw e;
  }
  return source;
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

function printInfo(source: Source): void {
  const views = buildViews(source);
  const d = describeSource(source, views);
  const out = process.stdout;
  out.write(`source   ${d.source.path}\n`);
  out.write(`format   ${d.source.format} (${d.source.detectedBy})\n`);
  out.write(`size     ${d.source.size} bytes (${human(d.source.size)})\n`);
  out.write(`mtime    ${d.source.mtime}\n`);
  out.write(`map      ${d.map.origin}: ${plural(d.map.ranges.length, 'RAM range')}, ${d.map.ramBytes} bytes (${human(d.map.ramBytes)})\n`);
  for (const r of d.map.ranges) out.write(`  ${r.start.padStart(14)} - ${r.end.padEnd(14)} ${human(r.length).padStart(10)}\n`);
  out.write('views\n');
  const width = Math.max(14, ...views.map((v) => v.name.length));
  for (const v of views) {
    out.write(`  ${v.name.padEnd(width)} ${String(v.file.size).padStart(16)}  ${v.description}\n`);
    for (const n of v.notes ?? []) out.write(`  ${''.padEnd(width)} ${''.padStart(16)}  note: ${n}\n`);
  }
  for (const n of d.notes) out.write(`note     ${n}\n`);
}

/** The view names for a message; a machine's many ranges/*.bin files (in a row) as one entry. */
function viewNames(views: readonly { name: string }[]): string {
  const names = views.map((v) => v.name);
  const first = names.findIndex((n) => n.startsWith('ranges/'));
  const count = names.filter((n) => n.startsWith('ranges/')).length;
  if (count <= 4) return names.join(', ');
  return [...names.slice(0, first), `ranges/… (${count} files, listed by memview info)`, ...names.slice(first + count)].join(', ');
}

function unmountDir(dir: string, force: boolean): Promise<void> {
  // A stale mount (its process killed) is still listed, so this only catches a wrong directory.
  // fusermount wants the path the mount table lists, not a symlink to it.
  const target = canonicalPath(dir);
  const mounted = mountTable().filter((m) => m.mountpoint === target).pop(); // the last one is on top
  if (!mounted) return Promise.reject(new InputError(`${dir}: nothing is mounted here`));
  // As root, fusermount unmounts anything: never the disk the evidence is on.
  if (mounted.fstype !== MEMVIEW_FSTYPE) return Promise.reject(new InputError(`${dir}: not a memview mount (${mounted.fstype}); not unmounting it`));
  return fusermount(target, force).catch((err: Error) => {
    throw new InputError(`${dir}: cannot unmount: ${err.message}${force ? '' : ` (if the mount is stale or busy: memview umount --force ${shellQuote(dir)})`}`);
  });
}

async function mountCommand(src: string, dir: string, flags: SourceFlags & { allowOther?: boolean; debug?: boolean; directIo?: boolean; backend?: string }): Promise<void> {
  const backend = flags.backend === undefined ? undefined : parseBackend(flags.backend);
  const mountpoint = checkMountpoint(dir);
  checkFuseDevice();
  const source = await openWithKernel(src, flags);
  const views = buildViews(source);
  // Catch signals from the start: one that lands while mounting unmounts right after.
  let onSignal: () => void = () => {
    signalled = true;
  };
  let signalled = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => onSignal());
  const mounted = await mountFiles(mountpoint, views, {
    backend,
    tuning: flags.directIo ? { directIo: true } : undefined,
    allowOther: flags.allowOther,
    debug: flags.debug,
    mtime: source.mtime,
    fsname: memviewFsname(fileId(src)),
    onReadError: (name, err) => process.stderr.write(`memview: read error in ${name}: ${err.message}\n`),
  });
  // One write: a reader that waits for ' mounted on ' sees the whole listing with it.
  const width = Math.max(...views.map((v) => v.name.length));
  process.stdout.write([
    `memview: ${source.format} image ${src} mounted on ${mountpoint} (${views.length} files); to unmount: Ctrl-C, or memview umount ${shellQuote(dir)}`,
    ...views.map((v) => `  ${v.name.padEnd(width)} ${v.file.size}`),
    `  map: ${source.mapOrigin}`,
    `  served by: ${mounted.backend}`,
  ].join('\n') + '\n');
  const code = await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      if (!mountedPaths().has(mountpoint)) return resolve(0); // already unmounted from outside
      mounted.unmount().then(
        () => resolve(0),
        (err: Error) => {
          process.stderr.write(`memview: unmount failed: ${err.message}\n`);
          resolve(1);
        },
      );
    };
    onSignal = stop;
    if (signalled) stop();
    // `memview umount DIR` (fusermount -u) from outside: notice it and end.
    setInterval(() => {
      if (!stopping && !mountedPaths().has(mountpoint)) {
        stopping = true;
        resolve(0);
      }
    }, 500);
  });
  source.close();
  // The FUSE thread's handles keep the event loop alive: leave explicitly.
  process.exit(code);
}

export function buildProgram(): Command {
  const program = new Command('memview')
    .description('Mount a Linux physical-memory image and serve it as padded, LiME and ELF files at once, without a copy')
    .version(packageVersion(), '--version', 'print the memview version (for the case notes)')
    .option('--debug', 'show stack traces on errors')
    // Set before the subcommands are created: they copy these settings.
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`memview: ${text.replace(/^error: /, '')}`) });

  withSourceOptions(program.command('mount <source> <mountpoint>'))
    .description('serve every view of SOURCE under MOUNTPOINT (foreground; Ctrl-C unmounts)')
    .option('--allow-other', 'let other users read the mount (needs user_allow_other in /etc/fuse.conf)')
    .option('--direct-io', 'bypass the kernel page cache: faster one-pass streaming, but no cached re-reads and no shared mmap')
    .option('--backend <name>', `who serves reads: ${BACKENDS.join(', ')} (default: $MEMVIEW_BACKEND, else auto: native libfuse 3 when its addon is built, else fuse-native)`)
    .action((src: string, dir: string, flags) => mountCommand(src, dir, { ...flags, debug: program.opts().debug }));

  program
    .command('umount <mountpoint>')
    .alias('unmount')
    .description('unmount a memview mount')
    .option('--force', 'lazy unmount: also clears a stale mount left by a killed process')
    .action((dir: string, flags: { force?: boolean }) => unmountDir(dir, !!flags.force));

  withSourceOptions(program.command('info <source>'))
    .description('print the detected format, the RAM range table and every view size')
    .option('--json', 'machine-readable output')
    .action(async (src: string, flags: SourceFlags & { json?: boolean }) => {
      const source = await openWithKernel(src, flags);
      try {
        if (flags.json) process.stdout.write(JSON.stringify(describeSource(source, buildViews(source)), null, 2) + '\n');
        else printInfo(source);
      } finally {
        source.close();
      }
    });

  program
    .command('map <source>')
    .description('list every candidate memory map for a raw image (files given, boot logs found in it), ranked by evidence, and the one chosen')
    .option('--iomem <file>', '/proc/iomem of the machine (repeatable)', collect, [])
    .option('--dmesg <file>', 'boot log of the machine: dmesg, journalctl -k, syslog (repeatable)', collect, [])
    .option('--scan', 'also look for boot logs inside the image (the default when no file is given)')
    .option('--json', 'machine-readable output')
    .action((src: string, flags: MapFlags) => mapCommand(src, flags));

  withSourceOptions(program.command('export <source>'))
    .description('write one view to a file (holes stay sparse); the same bytes as the mount, no FUSE needed')
    .addOption(new Option('--view <name>', 'view to write: padded, lime, elf, raw, iomem, info').makeOptionMandatory())
    .requiredOption('-o, --output <file>', 'output file (written beside as a temporary file, renamed when complete); - or /dev/stdout: standard output')
    .option('--force', 'overwrite the output file if it exists')
    .action(async (src: string, flags: SourceFlags & { view: string; output: string; force?: boolean }) => {
      const source = await openWithKernel(src, flags);
      try {
        const views = buildViews(source);
        if (source.mapOrigin.startsWith('auto:')) process.stderr.write(`memview: map ${source.mapOrigin}\n`);
        const view = findView(views, flags.view);
        if (!view && flags.view === 'vmcore') {
          throw new InputError(`--view: vmcore is not served for ${src}: no usable VMCOREINFO note in its RAM (memview info says why); memory.elf is the physical core`);
        }
        if (!view) throw new InputError(`--view: unknown view ${JSON.stringify(flags.view)}; one of: ${viewNames(views)}`);
        const inputs = [{ path: src, role: 'the source image' }];
        if (flags.map && flags.map !== AUTO_MAP) inputs.push({ path: flags.map, role: 'the map file given with --map' });
        await exportFile({ file: view.file, output: flags.output, inputs, force: !!flags.force, progress: progressBar(process.stderr) });
      } finally {
        source.close();
      }
    });
  return program;
}

/** Runs the CLI: exit 0 on success, 2 on bad input, 1 on anything else; errors are one line. */
export async function main(argv: string[]): Promise<void> {
  // `memview info … | head` closes our stdout early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
  });
  const program = buildProgram();
  const debug = argv.includes('--debug');
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2; // commander already printed the message
      return;
    }
    const err = e as Error;
    process.stderr.write(`memview: ${oneLine(err.message)}\n`);
    if (e instanceof InputError && e.details) process.stderr.write(e.details);
    if (debug && err.stack) process.stderr.write(err.stack + '\n');
    process.exitCode = e instanceof InputError || e instanceof SourceIOError ? 2 : e instanceof ExportError ? e.exitCode : 1;
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
