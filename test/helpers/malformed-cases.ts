/**
 * Malformed inputs, one per row of the README's "Malformed input" table.
 * test/malformed.test.ts runs each through the real CLI and checks exit 2,
 * one line naming the file and the problem, no stack trace, no input file
 * modified; scripts/malformed-table.ts prints the README table. Expected
 * offsets and sizes are computed here from the fixtures' own layout (the
 * format descriptions), not taken from memview's output.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { writeAvml } from './avml-writer';
import { flatten, KdumpSpec, writeKdump } from './kdump-writer';
import { Chunk, iomemText, materialise, ramBytes, Range, rangeLength, writeMachine } from './machine';
import { bootMessages, dmesgText, FIRMWARE } from './boot-log';
import { elfCoreImage, limeImage, NO_PADDR } from './source-writers';

export interface MalformedCase {
  /** The README row: what was wrong with the input. */
  input: string;
  group: 'source' | 'map' | 'LiME' | 'ELF' | 'AVML' | 'kdump' | 'split' | 'options' | 'mountpoint';
  /** Writes the inputs into `dir` (empty, private to the case); returns the CLI arguments. */
  make(dir: string): string[] | Promise<string[]>;
  /** What the line after `memview: ` must say. */
  message: RegExp;
  /** Run the CLI as user nobody (permission errors cannot be provoked as root). */
  asNobody?: boolean;
}

/** The command line that runs `bin` (bin/memview) with args, as user nobody when asked (setpriv). */
export function cliCommand(bin: string, args: string[], asNobody = false): [string, string[]] {
  const node = [process.execPath, bin, ...args];
  return asNobody ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...node]] : [node[0], node.slice(1)];
}

/** Two small RAM ranges: 8 KiB from 0x1000, 8 KiB from 1 MiB. */
export const TINY: Range[] = [
  { start: 0x1000, end: 0x2fff },
  { start: 0x100000, end: 0x101fff },
];
const TINY_RAM = 0x4000;
const LIME_HEADER = 32;
/** File offset of the second LiME record of limeImage(TINY). */
const LIME_SECOND = LIME_HEADER + rangeLength(TINY[0]);
const LIME_SIZE = 2 * LIME_HEADER + TINY_RAM;

const hex = (n: number | bigint) => '0x' + n.toString(16);

function put(dir: string, name: string, bytes: Chunk[] | Buffer | string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, typeof bytes === 'string' || Buffer.isBuffer(bytes) ? bytes : materialise(bytes));
  return f;
}

function tinyMachine(dir: string) {
  return writeMachine(dir, TINY);
}

function lime(): Buffer {
  return materialise(limeImage(TINY));
}

/** A LiME header (magic, version, s_addr, inclusive e_addr) as LiME's lime.h lays it out. */
function limeHeader(start: bigint, end: bigint, version = 1): Buffer {
  const h = Buffer.alloc(LIME_HEADER);
  h.writeUInt32LE(0x4c694d45, 0);
  h.writeUInt32LE(version, 4);
  h.writeBigUInt64LE(start, 8);
  h.writeBigUInt64LE(end, 16);
  return h;
}

/** A one-load ELF core (header 0x40, 2 phdrs of 0x38: data at 0xb0), patched by `edit`. */
function elf(edit: (b: Buffer) => void = () => {}, loads = [{ paddr: 0x1000n, data: ramBytes(0x1000, 0x1000) }]): Buffer {
  const b = materialise(elfCoreImage(loads));
  edit(b);
  return b;
}
const PHDR1 = 0x40 + 0x38; // the PT_LOAD's program header

/** limeImage(TINY) as LiME compress=1 writes it: one zlib stream, 2 KiB window (first byte 0x38). */
function limeZlib(): Buffer {
  return zlib.deflateSync(lime(), { windowBits: 11, memLevel: 5 });
}

/**
 * A kdump-compressed dump of pfns 1..0x3f, pages stored whole: header block,
 * one sub-header block, 2 bitmap blocks, then 63 page descriptors at 0x4000
 * and the page data after them (makedumpfile's diskdump_mod.h layout).
 */
function kdump(over: Partial<KdumpSpec> = {}): Buffer {
  return writeKdump({ maxMapnr: 0x40, present: (pfn) => pfn >= 1, page: (pfn) => ramBytes(pfn * 4096, 4096), codec: () => 'stored', ...over });
}
const KDUMP_DESCS = 0x4000;
const KDUMP_DATA = KDUMP_DESCS + 63 * 24;

export const CASES: MalformedCase[] = [
  // ---- the source file ------------------------------------------------
  { group: 'source', input: 'source does not exist', make: (d) => ['info', path.join(d, 'missing.raw')], message: /missing\.raw: no such file$/ },
  { group: 'source', input: 'source is a directory', make: (d) => ['info', d], message: /: is a directory, not an image file$/ },
  { group: 'source', input: 'source is empty (0 bytes)', make: (d) => ['info', put(d, 'empty.raw', '')], message: /empty\.raw: file is empty$/ },
  {
    group: 'source',
    input: 'source not readable by the user (mode 000, run as nobody)',
    asNobody: true,
    make: (d) => {
      const f = put(d, 'secret.raw', 'x');
      fs.chmodSync(f, 0);
      return ['info', f];
    },
    message: /secret\.raw: permission denied \(try as root\)$/,
  },
  {
    group: 'source',
    input: 'source is a FIFO with no writer (hung in open before)',
    make: (d) => {
      const f = path.join(d, 'mem.fifo');
      execFileSync('mkfifo', [f]);
      return ['info', f];
    },
    message: /mem\.fifo: is a FIFO \(named pipe\), not an image file; memview reads images at offsets: save it to a file first$/,
  },
  {
    group: 'source',
    input: 'source is a Unix socket',
    make: (d) => {
      const f = path.join(d, 'mem.sock');
      execFileSync('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', f]);
      return ['info', f];
    },
    message: /mem\.sock: is a socket \(or a device without a driver\), not a file; save the data to a file first$/,
  },
  {
    group: 'source',
    input: 'source is a symlink loop',
    make: (d) => {
      fs.symlinkSync('loop.raw', path.join(d, 'loop.raw'));
      return ['info', path.join(d, 'loop.raw')];
    },
    message: /loop\.raw: symbolic link loop \(ELOOP\): the link points back at itself$/,
  },
  {
    group: 'source',
    input: 'source name with a newline, a tab and an escape character (shown escaped)',
    make: (d) => ['info', path.join(d, 'evil\nname\t\x1b[31m.raw')],
    message: /evil\\nname\\t\\u001b\[31m\.raw: no such file$/,
  },
  {
    group: 'source',
    input: 'source name longer than 255 bytes',
    make: (d) => ['info', path.join(d, 'm'.repeat(300) + '.raw')],
    message: /m{300}\.raw: name too long \(ENAMETOOLONG: at most 255 bytes per name, 4095 per path\)$/,
  },
  {
    group: 'source',
    input: 'raw image without a map',
    make: (d) => ['info', tinyMachine(d).raw],
    message: /machine\.raw: a raw image needs a memory map.*pass --map/,
  },
  {
    group: 'source',
    input: 'raw image one byte shorter than the map (truncated copy)',
    make: (d) => {
      const m = tinyMachine(d);
      fs.truncateSync(m.raw, TINY_RAM - 1);
      return ['info', m.raw, '--map', m.iomem];
    },
    message: new RegExp(`machine\\.raw: raw image is ${TINY_RAM - 1} bytes but the map's System RAM totals ${TINY_RAM} bytes \\(difference -1\\)`),
  },
  {
    group: 'source',
    input: 'raw image larger than the map (wrong map)',
    make: (d) => {
      const m = tinyMachine(d);
      fs.appendFileSync(m.raw, Buffer.alloc(4096));
      return ['info', m.raw, '--map', m.iomem];
    },
    message: new RegExp(`raw image is ${TINY_RAM + 4096} bytes but the map's System RAM totals ${TINY_RAM} bytes \\(difference 4096\\)`),
  },
  {
    group: 'source',
    input: 'padded image shorter than the map says (map/size mismatch)',
    make: (d) => {
      const m = tinyMachine(d);
      const padded = put(d, 'short.padded', Buffer.alloc(0x101000));
      return ['info', padded, '--format', 'padded', '--map', m.iomem];
    },
    message: /short\.padded: padded image is 1052672 bytes but the map's RAM range 0x100000-0x101fff ends at 0x102000/,
  },

  // ---- the map file -----------------------------------------------------
  {
    group: 'map',
    input: 'map file does not exist',
    make: (d) => ['info', tinyMachine(d).raw, '--map', path.join(d, 'nope.iomem')],
    message: /nope\.iomem: no such file$/,
  },
  { group: 'map', input: 'map is a directory', make: (d) => ['info', tinyMachine(d).raw, '--map', d], message: /: is a directory, not a map file$/ },
  {
    group: 'map',
    input: 'map file is empty',
    make: (d) => ['info', tinyMachine(d).raw, '--map', put(d, 'empty.iomem', '')],
    message: /empty\.iomem: neither \/proc\/iomem text nor a boot log/,
  },
  {
    group: 'map',
    input: 'map is binary junk',
    make: (d) => ['info', tinyMachine(d).raw, '--map', put(d, 'junk.iomem', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff)))],
    message: /junk\.iomem: neither \/proc\/iomem text nor a boot log/,
  },
  {
    group: 'map',
    input: 'iomem read without root (every line 00000000-00000000)',
    make: (d) => ['info', tinyMachine(d).raw, '--map', put(d, 'user.iomem', '00000000-00000000 : Reserved\n00000000-00000000 : System RAM\n')],
    message: /user\.iomem: every iomem line reads 00000000-00000000: it was read without root/,
  },
  {
    group: 'map',
    input: 'iomem with overlapping RAM ranges',
    make: (d) => ['info', tinyMachine(d).raw, '--map', put(d, 'overlap.iomem', '00001000-00004fff : System RAM\n00003000-00008fff : System RAM\n')],
    message: /overlap\.iomem: iomem: RAM ranges 0x1000-0x4fff and 0x3000-0x8fff overlap$/,
  },
  {
    group: 'map',
    input: 'iomem with RAM ranges out of order',
    make: (d) => ['info', tinyMachine(d).raw, '--map', put(d, 'order.iomem', '00100000-00101fff : System RAM\n00001000-00002fff : System RAM\n')],
    message: /order\.iomem: iomem: RAM ranges 0x100000-0x101fff and 0x1000-0x2fff are out of order$/,
  },
  {
    group: 'map',
    input: 'iomem line whose end is below its start',
    make: (d) => ['info', tinyMachine(d).raw, '--map', put(d, 'backwards.iomem', '00002fff-00001000 : System RAM\n')],
    message: /backwards\.iomem: line 1: end 00001000 is below start 00002fff$/,
  },
  {
    group: 'map',
    input: 'iomem with a line that is not iomem syntax',
    make: (d) => ['info', tinyMachine(d).raw, '--map', put(d, 'garbled.iomem', '00001000-00002fff : System RAM\nthis is not a map line\n')],
    message: /garbled\.iomem: line 2 is not iomem syntax/,
  },
  {
    group: 'map',
    input: 'iomem without any System RAM',
    make: (d) => ['info', tinyMachine(d).raw, '--map', put(d, 'noram.iomem', '00000000-00000fff : Reserved\n000a0000-000bffff : PCI Bus 0000:00\n')],
    message: /noram\.iomem: iomem: no System RAM ranges found$/,
  },
  {
    group: 'map',
    input: 'iomem with a huge address (2^64-1)',
    make: (d) => ['info', tinyMachine(d).raw, '--map', put(d, 'huge.iomem', iomemText(TINY) + 'fffffffffffff000-ffffffffffffffff : System RAM\n')],
    message: /huge\.iomem: line \d+: System RAM end ffffffffffffffff is beyond 2\^53, not a physical address$/,
  },

  {
    group: 'map',
    input: 'map is a FIFO with no writer (hung in open before)',
    make: (d) => {
      const f = path.join(d, 'iomem.fifo');
      execFileSync('mkfifo', [f]);
      return ['info', tinyMachine(d).raw, '--map', f];
    },
    message: /iomem\.fifo: is a FIFO \(named pipe\), not a map file; save the map to a regular file first \(e\.g\. cat \/proc\/iomem > iomem\.txt\)$/,
  },
  {
    group: 'map',
    input: 'map is /dev/zero (grew without bound before)',
    make: (d) => ['info', tinyMachine(d).raw, '--map', '/dev/zero'],
    message: /^\/dev\/zero: is a character device, not a map file; save the map to a regular file first/,
  },
  {
    group: 'map',
    input: 'map file larger than 256 MiB (sparse)',
    make: (d) => {
      const f = put(d, 'huge.log', '');
      fs.truncateSync(f, 256 * 1024 * 1024 + 1);
      return ['info', tinyMachine(d).raw, '--map', f];
    },
    message: /huge\.log: 268435457 bytes is too large for a memory map \(\/proc\/iomem or a boot log, at most 256\.0 MiB read\); is this the image\?/,
  },
  {
    group: 'map',
    input: 'boot log whose memmap= edit turns all RAM reserved (was: "neither /proc/iomem text nor a boot log")',
    make: (d) => {
      // bootMessages: line 1 banner, 2 command line, 3 map header, 4-10 firmware entries, 11-13 filler, 14 the edit.
      const messages = bootMessages('4.12', FIRMWARE, [{ kind: 'update', start: 0, end: 0xffffffff, from: 'usable', to: 'reserved' }]);
      messages[1] = 'Command line: BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 ro memmap=4G$0 quiet';
      return ['map', tinyMachine(d).raw, '--dmesg', put(d, 'boot.log', dmesgText(messages))];
    },
    message:
      /^\S*boot\.log: lines 3-14: the edits after the firmware e820 map remove all its usable RAM: update \[0x0-0xffffffff\] usable ==> reserved \(line 14\); the kernel command line \(line 2\) has memmap=4G\$0; no memory map is left: give the machine's \/proc\/iomem instead$/,
  },

  // ---- LiME ---------------------------------------------------------------
  {
    group: 'LiME',
    input: 'LiME truncated inside the last record',
    make: (d) => ['info', put(d, 'cut.lime', lime().subarray(0, LIME_SIZE - 100))],
    message: new RegExp(`cut\\.lime: truncated LiME record at file offset ${hex(LIME_SECOND)}: .*the file ends 100 bytes early`),
  },
  {
    group: 'LiME',
    input: 'LiME header cut short at the end',
    make: (d) => ['info', put(d, 'shorthdr.lime', Buffer.concat([lime(), limeHeader(0x200000n, 0x200fffn).subarray(0, 12)]))],
    message: new RegExp(`shorthdr\\.lime: truncated LiME header at file offset ${hex(LIME_SIZE)}: 12 of 32 bytes`),
  },
  {
    group: 'LiME',
    input: 'LiME second header with bad magic',
    make: (d) => {
      const b = lime();
      b.write('XXXX', LIME_SECOND, 'latin1');
      return ['info', put(d, 'magic.lime', b)];
    },
    message: new RegExp(`magic\\.lime: bad magic 0x58585858 at file offset ${hex(LIME_SECOND)}`),
  },
  {
    group: 'LiME',
    input: 'LiME version 2',
    make: (d) => ['info', put(d, 'v2.lime', limeImage(TINY, 0, 2))],
    message: /v2\.lime: LiME version 2 at file offset 0x4 is not supported/,
  },
  {
    group: 'LiME',
    input: 'LiME record whose end is below its start',
    make: (d) => ['info', put(d, 'backwards.lime', Buffer.concat([limeHeader(0x2000n, 0x1000n), Buffer.alloc(64)]))],
    message: /backwards\.lime: LiME record at file offset 0x0 ends \(0x1000\) before it starts \(0x2000\)/,
  },
  {
    group: 'LiME',
    input: 'LiME records that overlap',
    make: (d) => [
      'info',
      put(d, 'overlap.lime', Buffer.concat([limeHeader(0x1000n, 0x2fffn), Buffer.alloc(0x2000), limeHeader(0x2000n, 0x2fffn), Buffer.alloc(0x1000)])),
    ],
    message: new RegExp(`overlap\\.lime: LiME record at file offset ${hex(LIME_HEADER + 0x2000)} \\(0x2000-0x2fff\\) overlaps or precedes`),
  },
  {
    group: 'LiME',
    input: 'LiME records out of order',
    make: (d) => [
      'info',
      put(d, 'order.lime', Buffer.concat([limeHeader(0x100000n, 0x100fffn), Buffer.alloc(0x1000), limeHeader(0x1000n, 0x1fffn), Buffer.alloc(0x1000)])),
    ],
    message: new RegExp(`order\\.lime: LiME record at file offset ${hex(LIME_HEADER + 0x1000)} \\(0x1000-0x1fff\\) overlaps or precedes`),
  },
  {
    group: 'LiME',
    input: 'LiME e_addr beyond any physical address (2^64-1)',
    make: (d) => ['info', put(d, 'huge.lime', Buffer.concat([limeHeader(0x1000n, 0xffffffffffffffffn), Buffer.alloc(64)]))],
    message: /huge\.lime: LiME e_addr 0xffffffffffffffff at file offset 0x10 is not a physical address/,
  },
  {
    group: 'LiME',
    input: 'LiME record claiming 1 TiB of data in a small file',
    make: (d) => ['info', put(d, 'tib.lime', Buffer.concat([limeHeader(0n, 0xffffffffffn), Buffer.alloc(4096)]))],
    message: new RegExp(`tib\\.lime: truncated LiME record at file offset 0x0: .*the file ends ${2 ** 40 + 32 - (32 + 4096)} bytes early`),
  },
  {
    group: 'LiME',
    input: 'LiME followed by trailing garbage',
    make: (d) => ['info', put(d, 'trailing.lime', Buffer.concat([lime(), Buffer.from('not a header, just trailing bytes')]))],
    message: new RegExp(`trailing\\.lime: bad magic .* at file offset ${hex(LIME_SIZE)} .*33 trailing bytes after the last record`),
  },

  // ---- ELF ------------------------------------------------------------------
  {
    group: 'ELF',
    input: 'ELF header cut short (20 bytes)',
    make: (d) => ['info', put(d, 'short.elf', elf().subarray(0, 20))],
    message: /short\.elf: truncated ELF header: 20 of 64 bytes/,
  },
  {
    group: 'ELF',
    input: 'ELF32 core',
    make: (d) => [
      'info',
      put(
        d,
        'e32.elf',
        elf((b) => (b[4] = 1)),
      ),
    ],
    message: /e32\.elf: ELF class 1 \(ELF32\) at file offset 0x4/,
  },
  {
    group: 'ELF',
    input: 'big-endian ELF core',
    make: (d) => [
      'info',
      put(
        d,
        'be.elf',
        elf((b) => (b[5] = 2)),
      ),
    ],
    message: /be\.elf: ELF data encoding 2 at file offset 0x5/,
  },
  {
    group: 'ELF',
    input: 'ELF that is an executable, not a core',
    make: (d) => [
      'info',
      put(
        d,
        'exec.elf',
        elf((b) => b.writeUInt16LE(2, 16)),
      ),
    ],
    message: /exec\.elf: ELF type 2 at file offset 0x10 is not a core file/,
  },
  {
    group: 'ELF',
    input: 'ELF core with no program headers',
    make: (d) => [
      'info',
      put(
        d,
        'nophdr.elf',
        elf((b) => b.writeUInt16LE(0, 56)),
      ),
    ],
    message: /nophdr\.elf: ELF core has no program headers/,
  },
  {
    group: 'ELF',
    input: 'ELF e_phentsize smaller than a program header',
    make: (d) => [
      'info',
      put(
        d,
        'phent.elf',
        elf((b) => b.writeUInt16LE(32, 54)),
      ),
    ],
    message: /phent\.elf: e_phentsize 32 at file offset 0x36 is below 56/,
  },
  {
    group: 'ELF',
    input: 'ELF with a huge e_phnum (65534 headers) past the end of the file',
    make: (d) => [
      'info',
      put(
        d,
        'phnum.elf',
        elf((b) => b.writeUInt16LE(0xfffe, 56)),
      ),
    ],
    message: new RegExp(
      `phnum\\.elf: program header table \\(65534 entries at file offset 0x40\\) ends at ${hex(0x40 + 0xfffe * 56)}, past the end of the file`,
    ),
  },
  {
    group: 'ELF',
    input: 'ELF e_phoff beyond any file (2^63)',
    make: (d) => [
      'info',
      put(
        d,
        'phoff.elf',
        elf((b) => b.writeBigUInt64LE(1n << 63n, 32)),
      ),
    ],
    message: /phoff\.elf: e_phoff 0x8000000000000000 is beyond any file/,
  },
  {
    group: 'ELF',
    input: 'ELF PT_LOAD whose data lies past the end of the file',
    make: (d) => [
      'info',
      put(
        d,
        'pasteof.elf',
        elf((b) => b.writeBigUInt64LE(0x100000n, PHDR1 + 8)),
      ),
    ],
    message: /pasteof\.elf: PT_LOAD #1 \(p_paddr 0x1000\) has data at file offset 0x100000-0x100fff, past the end of the file/,
  },
  {
    group: 'ELF',
    input: 'ELF PT_LOAD with p_filesz larger than p_memsz',
    make: (d) => [
      'info',
      put(
        d,
        'filesz.elf',
        elf((b) => b.writeBigUInt64LE(0x800n, PHDR1 + 40)),
      ),
    ],
    message: /filesz\.elf: .*p_filesz 0x1000 exceeds p_memsz 0x800/,
  },
  {
    group: 'ELF',
    input: 'ELF whose every PT_LOAD has p_paddr -1',
    make: (d) => [
      'info',
      put(
        d,
        'nopaddr.elf',
        elf((b) => b.writeBigUInt64LE(NO_PADDR, PHDR1 + 24)),
      ),
    ],
    message: /nopaddr\.elf: no PT_LOAD segment has a physical address/,
  },
  {
    group: 'ELF',
    input: 'ELF whose every PT_LOAD has p_paddr 0 (kcore before Linux 4.11)',
    make: (d) => [
      'info',
      put(
        d,
        'zero.elf',
        elfCoreImage([
          { paddr: 0n, vaddr: 0xffff888000000000n, data: Buffer.alloc(0x1000) },
          { paddr: 0n, vaddr: 0xffff888000100000n, data: Buffer.alloc(0x1000) },
        ]),
      ),
    ],
    message: /zero\.elf: every PT_LOAD has p_paddr 0/,
  },
  {
    group: 'ELF',
    input: 'ELF with e_phnum PN_XNUM (0xffff) and e_shoff 0 (was: "no program headers")',
    make: (d) => [
      'info',
      put(
        d,
        'xnum.elf',
        elf((b) => {
          b.writeUInt16LE(0xffff, 56); // e_phnum: the count is in section header 0's sh_info
          b.writeBigUInt64LE(0n, 0x28); // e_shoff: there is no section header table
        }),
      ),
    ],
    message:
      /^\S*xnum\.elf: e_phnum is PN_XNUM \(0xffff at file offset 0x38\): the real program header count should be in section header 0, but e_shoff is 0 \(there are no section headers\)$/,
  },
  {
    group: 'ELF',
    input: 'ELF PT_LOAD with p_paddr + p_memsz past 2^64 (was: "beyond any file")',
    make: (d) => [
      'info',
      put(
        d,
        'wrap.elf',
        elf((b) => b.writeBigUInt64LE((1n << 64n) - 0x800n, PHDR1 + 40)), // p_memsz: 0x1000 + this wraps past 2^64
      ),
    ],
    message:
      /^\S*wrap\.elf: PT_LOAD #1 at p_paddr 0x1000 with p_memsz 0xfffffffffffff800 ends at 0x10000000000000800, past 2\^64: not a physical address range$/,
  },

  // ---- AVML -----------------------------------------------------------------
  {
    group: 'AVML',
    input: 'AVML truncated inside a record',
    make: async (d) => {
      const f = path.join(d, 'cut.avml');
      await writeAvml(f, [{ start: 0x1000, end: 0x40fff }], (s, n) => ramBytes(s, n));
      fs.truncateSync(f, fs.statSync(f).size - 20);
      return ['info', f];
    },
    message: /cut\.avml: truncated AVML record at file offset 0x0/,
  },
  {
    group: 'AVML',
    input: 'AVML version 3',
    make: async (d) => {
      const f = path.join(d, 'v3.avml');
      await writeAvml(f, [{ start: 0x1000, end: 0x40fff }], (s, n) => ramBytes(s, n));
      const fd = fs.openSync(f, 'r+');
      fs.writeSync(fd, Buffer.from([3, 0, 0, 0]), 0, 4, 4);
      fs.closeSync(fd);
      return ['info', f];
    },
    message: /v3\.avml: unsupported AVML version 3 at file offset 0x0/,
  },
  {
    group: 'AVML',
    input: 'AVML trailer disagreeing with the stream length',
    make: async (d) => {
      const f = path.join(d, 'trailer.avml');
      await writeAvml(f, [{ start: 0x1000, end: 0x40fff }], (s, n) => ramBytes(s, n));
      const b = fs.readFileSync(f);
      b.writeBigUInt64LE(b.readBigUInt64LE(b.length - 8) + 1n, b.length - 8);
      fs.writeFileSync(f, b);
      return ['info', f];
    },
    message: /trailer\.avml: AVML record at file offset 0x0: trailer at file offset 0x[0-9a-f]+ says the Snappy stream is \d+ bytes/,
  },
  {
    group: 'AVML',
    input: 'AVML block whose Snappy stream has no data chunk (was: "unknown chunk type 0xa")',
    make: (d) => {
      // Record header (formats.md 2.2): "AVML", version 2, start 0x1000, end 0x1fff (inclusive), padding 0;
      // then only the stream identifier chunk (10 bytes) and the trailer: the stream's length, 10.
      const header = Buffer.alloc(32);
      header.write('AVML', 0, 'latin1');
      header.writeUInt32LE(2, 4);
      header.writeBigUInt64LE(0x1000n, 8);
      header.writeBigUInt64LE(0x1fffn, 16);
      const streamId = Buffer.from([0xff, 6, 0, 0, ...Buffer.from('sNaPpY', 'latin1')]);
      const trailer = Buffer.alloc(8);
      trailer.writeBigUInt64LE(BigInt(streamId.length));
      return ['info', put(d, 'empty.avml', Buffer.concat([header, streamId, trailer]))];
    },
    message: new RegExp(
      `^\\S*empty\\.avml: AVML block at file offset 0x0 \\(0x1000-0x1fff\\) has no data: its Snappy stream ends at its trailer \\(file offset ${hex(32 + 10)}\\) before any data chunk$`,
    ),
  },

  // ---- LiME compress=1 (one zlib stream, windowBits 11 as the LiME module writes it) ----
  {
    group: 'LiME',
    input: 'LiME compress=1 stream cut short',
    make: (d) => ['info', put(d, 'cut.lime', limeZlib().subarray(0, limeZlib().length - 100))],
    message: new RegExp(
      `cut\\.lime: the zlib stream ends early: the file ends at offset ${hex(limeZlib().length - 100)} after \\d+ inflated bytes, before the stream's end \\(truncated\\)$`,
    ),
  },
  {
    group: 'LiME',
    input: 'LiME compress=1 stream with a wrong Adler-32 check',
    make: (d) => {
      const z = limeZlib();
      z[z.length - 1] ^= 1; // the last byte of the RFC 1950 trailer
      return ['info', put(d, 'check.lime', z)];
    },
    message: new RegExp(
      `check\\.lime: corrupt deflate data near file offset ${hex(limeZlib().length)} \\(after ${LIME_SIZE} inflated bytes\\): incorrect data check$`,
    ),
  },
  {
    group: 'LiME',
    input: 'a zlib stream that is not LiME inside',
    make: (d) => ['info', put(d, 'other.z', zlib.deflateSync(Buffer.alloc(8192, 'not a LiME image '), { windowBits: 11 }))],
    message: /other\.z: a zlib stream that does not inflate to a LiME image/,
  },

  // ---- kdump-compressed -----------------------------------------------------------
  {
    group: 'kdump',
    input: 'kdump bitmaps past the end of the file',
    make: (d) => ['info', put(d, 'cut.kdump', kdump().subarray(0, 0x2800))],
    message: /cut\.kdump: kdump bitmaps \(2 blocks at file offset 0x2000\) end at 0x4000, past the end of the file \(0x2800 bytes\)$/,
  },
  {
    group: 'kdump',
    input: 'kdump page data cut short',
    make: (d) => ['export', put(d, 'short.kdump', kdump().subarray(0, KDUMP_DATA + 10 * 4096 + 100)), '--view', 'raw.bin', '-o', path.join(d, 'out.bin')],
    message: new RegExp(
      `short\\.kdump: truncated page data for pfn 0xb: 4096 bytes at file offset ${hex(KDUMP_DATA + 10 * 4096)} \\(descriptor at ${hex(KDUMP_DESCS + 10 * 24)}\\) run past the end of the file`,
    ),
  },
  {
    group: 'kdump',
    input: 'kdump page descriptor larger than a page',
    make: (d) => {
      const b = kdump();
      b.writeUInt32LE(0x2000, KDUMP_DESCS + 4 * 24 + 8); // pfn 5's size
      return ['export', put(d, 'desc.kdump', b), '--view', 'raw.bin', '-o', path.join(d, 'out.bin')];
    },
    message: new RegExp(`desc\\.kdump: bad page descriptor for pfn 0x5 at file offset ${hex(KDUMP_DESCS + 4 * 24)}: data offset 0x[0-9a-f]+, size 8192`),
  },
  {
    group: 'kdump',
    input: 'kdump page that inflates to the wrong size',
    make: (d) => [
      'export',
      put(d, 'size.kdump', kdump({ codec: () => 'zlib', page: (pfn) => (pfn === 2 ? Buffer.alloc(100, 7) : ramBytes(pfn * 4096, 4096)) })),
      '--view',
      'raw.bin',
      '-o',
      path.join(d, 'out.bin'),
    ],
    message: new RegExp(
      `size\\.kdump: page of pfn 0x2 at file offset 0x[0-9a-f]+ \\(descriptor at ${hex(KDUMP_DESCS + 24)}\\): zlib data decompressed to 100 bytes, expected 4096;`,
    ),
  },
  {
    group: 'kdump',
    input: 'flattened kdump without its end marker',
    make: (d) => ['info', put(d, 'open.flat', flatten(kdump(), { noEnd: true }))],
    message: new RegExp(`open\\.flat: flattened stream ends at file offset ${hex(flatten(kdump(), { noEnd: true }).length)} without its end marker`),
  },
  {
    group: 'kdump',
    input: 'flattened kdump cut inside a record',
    make: (d) => ['info', put(d, 'cut.flat', flatten(kdump(), { recordBytes: 0x4000 }).subarray(0, 4096 + 2 * (16 + 0x4000) + 100))],
    message: new RegExp(
      `cut\\.flat: truncated flattened record at file offset ${hex(4096 + 2 * (16 + 0x4000))}: 16384 bytes for diskdump offset 0x8000, the file ends after 84$`,
    ),
  },

  // ---- split RAM dumps (FILE@ADDR,...) ----------------------------------------------
  {
    group: 'split',
    input: 'FILE@ADDR files that overlap',
    make: (d) => {
      const a = put(d, 'a.bin', ramBytes(0x1000, 0x2000));
      const b = put(d, 'b.bin', ramBytes(0x2000, 0x1000));
      return ['info', `${b}@0x2000,${a}@0x1000`];
    },
    message: /b\.bin@0x2000 \(0x2000-0x2fff\) overlaps .*a\.bin@0x1000 \(0x1000-0x2fff\)$/,
  },
  {
    group: 'split',
    input: 'FILE@ADDR list naming a missing file',
    make: (d) => ['info', `${put(d, 'a.bin', ramBytes(0x1000, 0x1000))}@0x1000,${path.join(d, 'gone.bin')}@0x9000`],
    message: /gone\.bin: no such file$/,
  },
  {
    group: 'split',
    input: 'FILE@ADDR list with an item without @ADDR',
    make: (d) => ['info', `${put(d, 'a.bin', ramBytes(0x1000, 0x1000))}@0x1000,${path.join(d, 'b.bin')}`],
    message: /: not a file, and ".*b\.bin" is not FILE@ADDR \(e\.g\. DDRCS0\.BIN@0x80000000\)$/,
  },

  // ---- options ----------------------------------------------------------------
  {
    group: 'options',
    input: '--format with an unknown name',
    make: (d) => ['info', put(d, 'x.lime', lime()), '--format', 'zip'],
    message: /--format: unknown format "zip"/,
  },
  {
    group: 'options',
    input: '--cache-mb not a number',
    make: (d) => ['info', put(d, 'x.lime', lime()), '--cache-mb', 'lots'],
    message: /--cache-mb: expected a whole number of MiB, got "lots"$/,
  },
  {
    group: 'options',
    input: 'export of an unknown view',
    make: (d) => ['export', put(d, 'x.lime', lime()), '--view', 'bogus', '-o', path.join(d, 'out')],
    message: /--view: unknown view "bogus"/,
  },
  {
    group: 'options',
    input: 'export onto the source image itself',
    make: (d) => {
      const f = put(d, 'x.lime', lime());
      return ['export', f, '--view', 'padded', '-o', f, '--force'];
    },
    message: /x\.lime: is the source image; refusing to overwrite evidence$/,
  },
  {
    group: 'options',
    input: 'export onto a hard link of the source image',
    make: (d) => {
      const f = put(d, 'x.lime', lime());
      fs.linkSync(f, path.join(d, 'other-name'));
      return ['export', f, '--view', 'padded', '-o', path.join(d, 'other-name'), '--force'];
    },
    message: /other-name: is the source image; refusing to overwrite evidence$/,
  },
  {
    group: 'options',
    input: 'export onto the --map file (through a symlink)',
    make: (d) => {
      const m = tinyMachine(d);
      fs.symlinkSync(m.iomem, path.join(d, 'map-link'));
      return ['export', m.raw, '--map', m.iomem, '--view', 'padded', '-o', path.join(d, 'map-link'), '--force'];
    },
    message: /map-link: is the map file given with --map; refusing to overwrite evidence$/,
  },

  // ---- mountpoint -----------------------------------------------------------------
  {
    group: 'mountpoint',
    input: 'mountpoint is / (was: "unmount it with: memview umount /")',
    make: (d) => ['mount', put(d, 'x.lime', lime()), '/'],
    message: /^\/: is the root of a mounted \S+ file system \(.*\); mount on an empty directory of its own/,
  },
  {
    group: 'mountpoint',
    input: 'mountpoint is /proc',
    make: (d) => ['mount', put(d, 'x.lime', lime()), '/proc'],
    message: /^\/proc: is the root of a mounted proc file system \(proc\); mount on an empty directory of its own/,
  },
  {
    group: 'mountpoint',
    input: 'mountpoint does not exist',
    make: (d) => ['mount', put(d, 'x.lime', lime()), path.join(d, 'nodir')],
    message: /nodir: mountpoint does not exist; create it with: mkdir -p /,
  },
  {
    group: 'mountpoint',
    input: 'mountpoint is a file',
    make: (d) => ['mount', put(d, 'x.lime', lime()), put(d, 'file', 'x')],
    message: /file: mountpoint is not a directory$/,
  },
  {
    group: 'mountpoint',
    input: 'mountpoint is not empty',
    make: (d) => {
      const dir = path.join(d, 'full');
      fs.mkdirSync(dir);
      put(dir, 'keep', 'x');
      return ['mount', put(d, 'x.lime', lime()), dir];
    },
    message: /full: mountpoint is not empty; use an empty directory$/,
  },
];
