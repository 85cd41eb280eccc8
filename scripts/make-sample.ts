/**
 * Builds the quick-start sample machine deterministically (default: fixtures/sample/):
 *   machine.raw    its RAM ranges concatenated, as LiME format=raw writes them
 *   machine.iomem  its /proc/iomem
 *   machine.dmesg  its boot log (firmware e820 map + the kernel's edits)
 * RAM: 0x1000-0x9fbff (unaligned end), 1 MiB-10 MiB (a kernel at 4 MiB), 2 MiB above 4 GiB.
 * Every 8-byte word holds its own physical address xor 0x5a5a, except where the
 * kernel's structures sit: a VMCOREINFO note, init_uts_ns, page tables, and a
 * copy of the boot log in the page cache (so `--map auto` finds the map).
 * Run: node dist/scripts/make-sample.js [DIR]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bootMessages, dmesgText, E820Line, EditLine } from '../test/helpers/boot-log';
import { kernelMachine, writeKernelMachine } from '../test/helpers/kernel';

const FIRMWARE: E820Line[] = [
  { start: 0, end: 0x9fbff, type: 'usable' },
  { start: 0x9fc00, end: 0x9ffff, type: 'reserved' },
  { start: 0xf0000, end: 0xfffff, type: 'reserved' },
  { start: 0x100000, end: 0x9fffff, type: 'usable' },
  { start: 0xfffc0000, end: 0xffffffff, type: 'reserved' },
  { start: 0x100000000, end: 0x1001fffff, type: 'usable' },
];
// The standard trim_bios_range() edits: first page reserved, 0xa0000-0xfffff removed.
const EDITS: EditLine[] = [
  { kind: 'update', start: 0, end: 0xfff, from: 'usable', to: 'reserved' },
  { kind: 'remove', start: 0xa0000, end: 0xfffff, from: 'usable' },
];

const dir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..', 'fixtures', 'sample'));
const km = kernelMachine({ salt: 0x5a5a, osrelease: '6.1.0-13-amd64' });
const log = dmesgText(bootMessages('4.12', FIRMWARE, EDITS, km.osrelease));
const m = writeKernelMachine(dir, km, [{ phys: 0x200000, data: Buffer.from(log, 'latin1') }]);
fs.writeFileSync(path.join(dir, 'machine.dmesg'), log);
process.stdout.write(`sample machine: ${m.raw} + ${m.iomem} + machine.dmesg\n`);
