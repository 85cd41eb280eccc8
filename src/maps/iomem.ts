import { InputError } from '../errors';
import { RamRange } from '../types';
import { checkRanges } from './ranges';
import { TextBytes } from '../text-bytes';

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
const RAM_NAME = /^System RAM( \(.*\))?$/;

/** One line's fields: indent depth, start, inclusive end (as parsed hex), whether it names System RAM. */
interface IomemLine {
  depth: number;
  start: number;
  end: number;
  startText: string;
  endText: string;
  ram: boolean;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * The line text[from, to) read without regular expressions or substrings
 * (a map of a million lines): null when it is not the plain form, and
 * LINE then decides (the same fields, or the message). `startText`/`endText`
 * are only filled by LINE (messages quote them).
 */
function quickLine(text: string, from: number, to: number): IomemLine | null {
  let p = from;
  while (p < to && text.charCodeAt(p) === 32) p++;
  const depth = p - from;
  let start = 0;
  let end = 0;
  let at = p;
  for (let d; p < to && (d = hexDigit(text.charCodeAt(p))) >= 0; p++) start = start * 16 + d;
  if (p === at || text.charCodeAt(p++) !== 45 /* - */) return null;
  at = p;
  for (let d; p < to && (d = hexDigit(text.charCodeAt(p))) >= 0; p++) end = end * 16 + d;
  if (p === at || !text.startsWith(' : ', p)) return null;
  p += 3;
  let q = to;
  for (let c = text.charCodeAt(q - 1); q > p && (c === 32 || (c >= 9 && c <= 13)); c = text.charCodeAt(--q - 1));
  for (let i = p; i < q; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 || c >= 128) return null; // other whitespace or line terminators: the regular expression's rules
  }
  // Out of order or past 2^53: LINE reads it again, for the message.
  if (end < start || end > Number.MAX_SAFE_INTEGER) return null;
  const ram = (q - p === 10 && text.startsWith('System RAM', p)) || (q - p >= 13 && text.startsWith('System RAM (', p) && text.charCodeAt(q - 1) === 41);
  return { depth, start, end, startText: '', endText: '', ram };
}

function regexLine(line: string): IomemLine | null {
  const m = LINE.exec(line);
  if (!m) return null;
  return { depth: m[1].length, start: parseInt(m[2], 16), end: parseInt(m[3], 16), startText: m[2], endText: m[3], ram: RAM_NAME.test(m[4]) };
}

export function parseIomem(text: string): RamRange[] {
  const ram: RamRange[] = [];
  let allZero = true;
  // ramDepth: indent depth of the RAM line we are inside, or -1.
  let ramDepth = -1;
  // `n`: the line's number among the non-blank lines, as messages count them.
  let n = 0;
  for (let from = 0; from <= text.length;) {
    let to = text.indexOf('\n', from);
    if (to < 0) to = text.length;
    const next = to + 1;
    if (to > from && text.charCodeAt(to - 1) === 13) to--;
    let line = quickLine(text, from, to);
    if (!line) {
      const raw = text.slice(from, to);
      if (raw.trim() === '') {
        from = next;
        continue;
      }
      line = regexLine(raw);
      if (!line) throw new InputError(`line ${n + 1} is not iomem syntax ("start-end : name"): ${JSON.stringify(raw.slice(0, 60))}`);
    }
    n++;
    from = next;
    const { depth, start, end } = line;
    if (start !== 0 || end !== 0) allZero = false;
    if (end < start) throw new InputError(`line ${n}: end ${line.endText} is below start ${line.startText}`);
    if (ramDepth >= 0 && depth <= ramDepth) ramDepth = -1;
    if (ramDepth >= 0) continue; // inside a RAM range already counted
    if (line.ram) {
      // Above 2^53 a number loses bytes (lengths would be off); no machine has RAM there.
      if (end > Number.MAX_SAFE_INTEGER) throw new InputError(`line ${n}: System RAM end ${line.endText} is beyond 2^53, not a physical address`);
      ram.push({ start, length: end - start + 1 });
      ramDepth = depth;
    }
  }
  if (n === 0) throw new InputError('iomem map is empty');
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

/** RAM ranges -> iomem syntax (the same text /proc/iomem would show for them), as bytes. */
export function formatIomemBytes(ranges: readonly RamRange[]): Buffer {
  const out = new TextBytes(ranges.length * 40);
  for (const r of ranges)
    out
      .hex(r.start, 8)
      .text('-')
      .hex(r.start + r.length - 1, 8)
      .text(' : System RAM\n');
  return out.toBuffer();
}
