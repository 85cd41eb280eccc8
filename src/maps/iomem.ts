import { InputError } from '../errors';
import { RamRange } from '../types';
import { checkRanges } from './ranges';

/**
 * /proc/iomem text -> sorted System RAM ranges.
 *
 * Line format (kernel/resource.c r_show): two spaces of indent per depth,
 * `start-end : name`, lowercase hex, end inclusive. A line counts as RAM when
 * its name is `System RAM` or `System RAM (…)` (kmem, virtio_mem) and no
 * ancestor is already RAM, so `Kernel code` and RAM nested in RAM are not
 * counted twice.
 */
const LINE = /^( *)([0-9a-fA-F]+)-([0-9a-fA-F]+) : (.*?)\s*$/;

export function parseIomem(text: string): RamRange[] {
  const lines = text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new InputError('iomem map is empty');
  const ram: RamRange[] = [];
  let allZero = true;
  // ramDepth: indent depth of the RAM line we are inside, or -1.
  let ramDepth = -1;
  lines.forEach((line, i) => {
    const m = LINE.exec(line);
    if (!m) throw new InputError(`line ${i + 1} is not iomem syntax ("start-end : name"): ${JSON.stringify(line.slice(0, 60))}`);
    const depth = m[1].length;
    const start = parseInt(m[2], 16);
    const end = parseInt(m[3], 16);
    if (start !== 0 || end !== 0) allZero = false;
    if (end < start) throw new InputError(`line ${i + 1}: end ${m[3]} is below start ${m[2]}`);
    if (ramDepth >= 0 && depth <= ramDepth) ramDepth = -1;
    if (ramDepth >= 0) return; // inside a RAM range already counted
    if (/^System RAM( \(.*\))?$/.test(m[4])) {
      // Above 2^53 a number loses bytes (lengths would be off); no machine has RAM there.
      if (end > Number.MAX_SAFE_INTEGER) throw new InputError(`line ${i + 1}: System RAM end ${m[3]} is beyond 2^53, not a physical address`);
      ram.push({ start, length: end - start + 1 });
      ramDepth = depth;
    }
  });
  if (allZero) {
    throw new InputError('every iomem line reads 00000000-00000000: it was read without root; copy /proc/iomem as root');
  }
  return checkRanges(ram, 'iomem');
}

/** `00001000-0009fbff`: a range as /proc/iomem prints it (lowercase hex, at least 8 digits, end inclusive). */
export function iomemSpan(r: RamRange): string {
  const hex8 = (n: number) => n.toString(16).padStart(8, '0');
  return `${hex8(r.start)}-${hex8(r.start + r.length - 1)}`;
}

/** RAM ranges -> iomem syntax (the same text /proc/iomem would show for them). */
export function formatIomem(ranges: readonly RamRange[]): string {
  return ranges.map((r) => `${iomemSpan(r)} : System RAM\n`).join('');
}
