import { watchClosedOutput } from './closed-output';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { InputError } from '../errors';
import { BACKENDS } from '../fuse/mount';
import { SourceIOError } from '../io/byte-source';
import { isRemote, redactArgs } from '../io/remote-url';
import { ExportError } from './export';
import { exportCommand } from './export-command';
import { infoCommand } from './info-command';
import { mapCommand } from './map-command';
import { mountCommand } from './mount-command';
import { collect, withSourceOptions } from './options';
import { oneLine } from './print';
import { umountCommand } from './umount-command';

/** The version in memview's package.json (the nearest one above this file, in dist/ or not). */
function packageVersion(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')).version;
  }
  return 'unknown';
}

/** The commands and their flags; each command's work is in its own file. */
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
    .option(
      '--backend <name>',
      `who serves reads: ${BACKENDS.join(', ')} (default: $MEMVIEW_BACKEND, else auto: native libfuse 3 when its addon is built, else fuse-native)`,
    )
    .action((src: string, dir: string, flags) => mountCommand(src, dir, { ...flags, debug: program.opts().debug }));

  program
    .command('umount <mountpoint>')
    .alias('unmount')
    .description('unmount a memview mount')
    .option('--force', 'lazy unmount: also clears a stale mount left by a killed process')
    .action((dir: string, flags: { force?: boolean }) => umountCommand(dir, !!flags.force));

  withSourceOptions(program.command('info <source>'))
    .description('print the detected format, the RAM range table and every view size')
    .option('--json', 'machine-readable output')
    .action(infoCommand);

  program
    .command('map <source>')
    .description('list every candidate memory map for a raw image (files given, boot logs found in it), ranked by evidence, and the one chosen')
    .option('--iomem <file>', '/proc/iomem of the machine (repeatable)', collect, [])
    .option('--dmesg <file>', 'boot log of the machine: dmesg, journalctl -k, syslog (repeatable)', collect, [])
    .option('--scan', 'also look for boot logs inside the image (the default when no file is given)')
    .option('--json', 'machine-readable output')
    .action(mapCommand);

  withSourceOptions(program.command('export <source>'))
    .description('write one view to a file (holes stay sparse); the same bytes as the mount, no FUSE needed')
    .addOption(new Option('--view <name>', 'view to write: padded, lime, elf, raw, iomem, info').makeOptionMandatory())
    .requiredOption('-o, --output <file>', 'output file (written beside as a temporary file, renamed when complete); - or /dev/stdout: standard output')
    .option('--force', 'overwrite the output file if it exists')
    .action(exportCommand);
  return program;
}

/** Runs the CLI: exit 0 on success, 2 on bad input, 1 on anything else; errors are one line. */
export async function main(argv: string[]): Promise<void> {
  watchClosedOutput();
  // A presigned or SAS URL on the command line is a credential: ps and /proc/PID/cmdline show this title instead.
  if (argv.some(isRemote)) process.title = redactArgs(argv.slice(1).join(' '), argv);
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
