/**
 * A small kernel machine (test/helpers/kernel.ts: page table, VMCOREINFO) as
 * a raw image with boot logs written into its RAM, plus its firmware map and
 * the kernel's edits. Independent of src/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bootMessages, E820Line, EditLine, Era } from './boot-log';
import { kernelMachine, kernelPhysical, KernelMachine, Patch, writeKernelMachine } from './kernel';
import { Range } from './machine';

// A machine small enough to compare whole padded files: the kernel (page table, VMCOREINFO) at 16 MiB.
export const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x1ffffff },
  { start: 0x2400000, end: 0x25fffff },
];
// Its firmware map and the kernel's edits: together they give RANGES (derived by hand).
export const FIRMWARE: E820Line[] = [
  { start: 0, end: 0x9fbff, type: 'usable' },
  { start: 0x9fc00, end: 0x9ffff, type: 'reserved' },
  { start: 0xf0000, end: 0xfffff, type: 'reserved' },
  { start: 0x100000, end: 0x1ffffff, type: 'usable' },
  { start: 0x2000000, end: 0x23fffff, type: 'ACPI data' },
  { start: 0x2400000, end: 0x25fffff, type: 'usable' },
  { start: 0xfffc0000, end: 0xffffffff, type: 'reserved' },
];
export const EDITS: EditLine[] = [
  { kind: 'update', start: 0, end: 0xfff, from: 'usable', to: 'reserved' },
  { kind: 'remove', start: 0xa0000, end: 0xfffff, from: 'usable' },
  { kind: 'update', start: 0x25ff000, end: 0x25fffff, from: 'usable', to: 'reserved', otherTable: true },
];
/** Same RAM total, different layout: a 64 KiB first reservation and 60 KiB more at the top. */
export const SHIFTED_FIRMWARE = FIRMWARE.map((e) => (e.start === 0x2400000 ? { ...e, end: 0x260efff } : e));
export const SHIFTED_EDITS: EditLine[] = [{ kind: 'update', start: 0, end: 0xffff, from: 'usable', to: 'reserved' }, EDITS[1]];
/** An earlier boot with less RAM: a different total. */
export const EARLIER_FIRMWARE = FIRMWARE.map((e) => (e.start === 0x2400000 ? { ...e, end: 0x24fffff } : e));

export const messages = (era: Era, fw = FIRMWARE, edits = EDITS) => bootMessages(era, fw, edits);

let n = 0;
/**
 * Writes the raw image (RAM of `ranges` concatenated, kernel structures and
 * `logs` patched in at their physical addresses) and the padded reference.
 */
export function logMachine(tmp: string, logs: Patch[], opts: { note?: boolean; ranges?: Range[] } = {}): { km: KernelMachine; raw: string; reference: string } {
  const ranges = opts.ranges ?? RANGES;
  const km = kernelMachine({ ranges, textPhys: 0x1000000, ...(opts.note === false ? { notePhys: null } : {}) });
  const dir = path.join(tmp, `m${n++}`);
  const files = writeKernelMachine(dir, km, logs);
  const last = ranges[ranges.length - 1];
  const reference = path.join(dir, 'reference.padded');
  fs.writeFileSync(reference, kernelPhysical(km, 0, last.end + 1, logs));
  fs.rmSync(files.iomem);
  return { km, raw: files.raw, reference };
}
