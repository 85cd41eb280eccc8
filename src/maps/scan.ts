import { DmesgMap, replayE820 } from './dmesg';

/**
 * Recognises the kernel's boot log inside raw memory, around a hit of
 * `LOG_NEEDLE`, in each form the log takes in RAM. Pure: a Buffer in, the
 * log's lines out (the streaming file loop is in src/mapfind/scan-image.ts).
 *
 * - `text`: newline-separated lines: a `dmesg`/journal/syslog copy in the page
 *   cache or tmpfs, and the <= 3.4 kernel log_buf (`<6>[    0.000000] …\n`).
 * - `printk_log` (3.5-5.9): records `u64 ts_nsec, u16 len, u16 text_len,
 *   u16 dict_len, u8 facility, u8 flags:5 level:3` (+ `u32 caller_id` with
 *   CONFIG_PRINTK_CALLER), then text without newline, then dict; `len` covers
 *   it all, padded to LOG_ALIGN (4 on x86, 8 elsewhere). The next record
 *   follows at +len; len 0 marks the wrap to the buffer start.
 * - `printk_ringbuffer` (>= 5.10): data-ring blocks `unsigned long id` + text
 *   (no newline) + what printk left of the reserved space (see blockText),
 *   padded to 8 bytes; consecutive records have consecutive ids (62-bit, the
 *   top two bits are descriptor flags).
 */

export type LogForm = 'text' | 'printk_log' | 'printk_ringbuffer';

/** Every era's map header contains this (3.5-4.11 prefix it with `e820: `). */
export const LOG_NEEDLE = Buffer.from('BIOS-provided physical RAM map:', 'latin1');
const E820_PREFIX = Buffer.from('e820: ', 'latin1');

/** How far a log is followed after its map header: the edits come within a few hundred lines. */
export const LOG_WINDOW = 64 * 1024;
/** Bytes before a hit the recognisers may look at (record headers, the line's prefix). */
export const LOG_LOOKBEHIND = 512;
const MAX_LINE = 1024;

export interface LogExtract {
  form: LogForm;
  /** Index in the buffer where the log's first recognised line (or record) starts. */
  start: number;
  lines: string[];
}

const isText = (c: number) => c === 0x09 || (c >= 0x20 && c !== 0x7f);

/** Where the header message starts: at the hit, or 6 bytes earlier with the 3.5-4.11 `e820: ` prefix. */
function messageStart(buf: Buffer, hit: number): number {
  return hit >= E820_PREFIX.length && buf.subarray(hit - E820_PREFIX.length, hit).equals(E820_PREFIX) ? hit - E820_PREFIX.length : hit;
}

function printable(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!isText(buf[i])) return false;
  return true;
}

/** A printk_log record at `at` with the given header size: [text start, text length, record length] or null. */
function printkRecord(buf: Buffer, at: number, hdr: number, align: number): { text: number; textLen: number; len: number } | null {
  if (at < 0 || at + hdr > buf.length) return null;
  const len = buf.readUInt16LE(at + 8);
  const textLen = buf.readUInt16LE(at + 10);
  const dictLen = buf.readUInt16LE(at + 12);
  const need = hdr + textLen + dictLen;
  if (len === 0 || len !== Math.ceil(need / align) * align || at + hdr + textLen > buf.length) return null;
  return { text: at + hdr, textLen, len };
}

/** 3.5-5.9 records: header right before the message, then a chain of records. */
function tryPrintkLog(buf: Buffer, msg: number, lineEnd: number, end: number): LogExtract | null {
  for (const hdr of [16, 20]) {
    for (const align of [8, 4]) {
      const first = printkRecord(buf, msg - hdr, hdr, align);
      if (!first || first.text + first.textLen !== lineEnd) continue;
      const lines: string[] = [];
      for (let at = msg - hdr; at < end;) {
        const r = printkRecord(buf, at, hdr, align);
        if (!r || !printable(buf, r.text, r.text + r.textLen)) break;
        lines.push(buf.toString('latin1', r.text, r.text + r.textLen));
        at += r.len;
      }
      return { form: 'printk_log', start: msg - hdr, lines };
    }
  }
  return null;
}

const ID_MASK = (1n << 62n) - 1n;

/**
 * A data block's text: printable bytes up to the first control byte. The block
 * is reserved for the message as printk formatted it (2-byte level prefix,
 * text, newline); printk then moves the text over the prefix, so the block's
 * tail still holds the last 3 bytes: "\x01c\n" for a line completed by
 * pr_cont, else the text's last 2 bytes again and the newline (the record's
 * length is only in the descriptor ring). Seen on Debian's 6.1 kernel.
 */
function blockText(buf: Buffer, text: number, limit: number): number {
  let stop = text;
  while (stop < limit && isText(buf[stop])) stop++;
  const n = stop - text;
  if (buf[stop] === 0x0a && n >= 4 && buf[stop - 1] === buf[stop - 3] && buf[stop - 2] === buf[stop - 4]) stop -= 2;
  return stop;
}

/** >= 5.10 data ring: `id` before the message; each next block starts with id + 1 at an 8-byte step. */
function tryRingbuffer(buf: Buffer, msg: number, end: number): LogExtract | null {
  const blockAt = msg - 8;
  if (blockAt < 0) return null;
  const lines: string[] = [];
  let at = blockAt;
  let id = buf.readBigUInt64LE(at);
  while (at + 8 < end) {
    const text = at + 8;
    const next = (id + 1n) & ID_MASK;
    let nextAt = -1;
    for (let p = text + 8; p + 8 <= Math.min(buf.length, text + MAX_LINE + 16); p += 8) {
      if (buf.readBigUInt64LE(p) === next) {
        nextAt = p;
        break;
      }
    }
    const stop = blockText(buf, text, nextAt >= 0 ? nextAt : Math.min(buf.length, text + MAX_LINE));
    // The first block must be exactly the header message, followed by the next record.
    if (lines.length === 0 && (nextAt < 0 || stop !== msg + LOG_NEEDLE.length)) return null;
    if (stop === text) break;
    lines.push(buf.toString('latin1', text, stop));
    if (nextAt < 0) break;
    at = nextAt;
    id = next;
  }
  return { form: 'printk_ringbuffer', start: blockAt, lines };
}

/** Text lines: back to the start of the header's line, forward until a byte that is not text. */
function tryText(buf: Buffer, msg: number, afterHeader: number, end: number): LogExtract | null {
  if (buf[afterHeader] !== 0x0a && !(buf[afterHeader] === 0x0d && buf[afterHeader + 1] === 0x0a)) return null;
  let start = msg;
  while (start > 0 && msg - start < MAX_LINE && buf[start - 1] !== 0x0a && isText(buf[start - 1])) start--;
  let stop = msg;
  while (stop < end && (isText(buf[stop]) || buf[stop] === 0x0a || buf[stop] === 0x0d)) stop++;
  // A line cut by the end of the text is incomplete: leave it out.
  const lastNewline = buf.lastIndexOf(0x0a, stop - 1);
  const text = buf.toString('latin1', start, lastNewline >= start ? lastNewline : stop);
  return { form: 'text', start, lines: text.split(/\r?\n/) };
}

/**
 * The boot log around a LOG_NEEDLE hit at `buf[hit]`, in whichever in-memory
 * form it is stored, or null when the hit is not a log (e.g. the printk
 * format string in the kernel's own rodata).
 */
export function extractLogAt(buf: Buffer, hit: number): LogExtract | null {
  const msg = messageStart(buf, hit);
  const end = Math.min(buf.length, hit + LOG_WINDOW);
  const headerEnd = hit + LOG_NEEDLE.length;
  return tryPrintkLog(buf, msg, headerEnd, end) ?? tryRingbuffer(buf, msg, end) ?? tryText(buf, msg, headerEnd, end);
}

export interface LogMap {
  form: LogForm;
  /** Index in the buffer of the log's first line/record. */
  start: number;
  map: DmesgMap;
}

/** The map of the boot whose header is at the hit (null if none, or if it has no RAM). */
export function mapAt(buf: Buffer, hit: number): LogMap | null {
  const log = extractLogAt(buf, hit);
  if (!log) return null;
  const maps = replayE820(log.lines);
  const map = maps[0];
  if (!map || map.ranges.length === 0) return null;
  return { form: log.form, start: log.start, map };
}
