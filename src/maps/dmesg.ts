import { RamRange } from '../types';

/**
 * Kernel boot log text -> the e820 map the kernel really used, replaying its
 * edits in log order. Pure: lines in, maps out.
 *
 * Accepts `dmesg`, `dmesg -r` (`<6>`), `journalctl -k`, syslog files and
 * /dev/kmsg lines: messages are found anywhere in a line, so timestamps and
 * prefixes need no stripping. Formats (arch/x86/kernel/e820.c by era):
 * - map header `[e820: ]BIOS-provided physical RAM map:` starts a boot's map;
 *   `user-defined` / `modified` / `extended` / `fixed physical RAM map:` print
 *   the kernel's whole table again, which then replaces the current one.
 * - entries: <= 3.4 ` BIOS-e820: 0000000000000000 - 000000000009f800 (usable)`
 *   (end exclusive); >= 3.5 `BIOS-e820: [mem 0x0-0x9fbff] usable` (inclusive);
 *   7.0 adds `[gap …]` lines, a `[Firmware Bug]: ` prefix and new type words.
 * - edits: `e820: update [mem A-B] usable ==> reserved`, `e820: remove [mem
 *   A-B] usable` (inclusive), <= 3.4 `e820 update range: A - B (usable) ==>
 *   (reserved)` / `e820 remove range: …` (exclusive). An update followed by
 *   `update e820_saved|e820_table_firmware|e820_table_kexec …` changed another
 *   table and is skipped.
 * Only `usable` is RAM (RESERVED_KERN also prints `usable`); `reserved`,
 * ACPI, `RAM buffer`, `soft reserved`, persistent memory are not.
 */

/** One e820 table entry, end exclusive. */
export interface E820Entry {
  start: number;
  end: number;
  type: string;
}

export type DmesgEra = 'pre-3.5' | '3.5+';

/** One boot's map, as the log describes it. */
export interface DmesgMap {
  /** System RAM ranges of the final table, sorted. */
  ranges: RamRange[];
  /** The final table (every type). */
  entries: E820Entry[];
  era: DmesgEra;
  /** 1-based line numbers of the first and last line that shaped this map. */
  firstLine: number;
  lastLine: number;
  /** Entries of the firmware table. */
  firmwareEntries: number;
  /** Edits replayed, in words (`update 0x0-0xfff usable ==> reserved`). */
  edits: string[];
  /** Edits not replayed, and why. */
  skipped: string[];
  /** Set when a later full table (user-defined, modified…) replaced the firmware one. */
  replacedBy?: string;
  /** The line of that table's header. */
  replacedAt?: number;
  /** Usable RAM in the firmware table, in bytes, before any edit. */
  firmwareRam: number;
}

const HEX = '(?:0x)?[0-9a-fA-F]+';
const WHO = '([A-Za-z][A-Za-z0-9_ -]*)';
const HEADER = /\b([A-Za-z-]+) physical RAM map:/;
const ENTRY_NEW = new RegExp(`${WHO}: \\[mem (${HEX})-(${HEX})\\] ?(.*)$`);
const ENTRY_OLD = new RegExp(`${WHO}: ([0-9a-fA-F]{8,16}) - ([0-9a-fA-F]{8,16}) ?(.*)$`);
const GAP = /\[gap /;
const UPDATE_NEW = new RegExp(`e820: update \\[mem (${HEX})-(${HEX})\\] (.+?) ==> (.+)$`);
const REMOVE_NEW = new RegExp(`e820: remove \\[mem (${HEX})-(${HEX})\\] ?(.*)$`);
const UPDATE_OLD = /e820 update range: ([0-9a-fA-F]+) - ([0-9a-fA-F]+) (.+?) ==> (.+)$/;
const REMOVE_OLD = /e820 remove range: ([0-9a-fA-F]+) - ([0-9a-fA-F]+) ?(.*)$/;
/** Who-strings of e820__print_table callers: firmware tables, then the kernel's reprints. */
const FIRMWARE_WHO = /^(BIOS-e820|BIOS-e801|BIOS-88|Xen)$/;
const KNOWN_WHO = /^(BIOS-e820|BIOS-e801|BIOS-88|Xen|user|modified|extended|reserve setup_data|bad_ppro)$/;
/** Other `name: [mem …]` lines that may follow a header in a damaged log. */
const UNRELATED_WHO = /^(RAMDISK|node|e820)\b/;
/** The line after an update that went to another table. */
const OTHER_TABLE = /update (e820_saved|e820_table_firmware|e820_table_kexec)\b/;

const num = (s: string) => parseInt(s.replace(/^0x/i, ''), 16);
/** `(usable)` -> `usable`, `usable ` -> `usable`. */
const typeWord = (s: string) =>
  s
    .trim()
    .replace(/^\((.*)\)$/, '$1')
    .trim();

/** Is an e820 type word RAM? (`usable`; 7.0 wording kept open: `System RAM`, `kernel usable RAM`.) */
export function isRamType(type: string): boolean {
  return /^(usable|System RAM|kernel usable RAM)\b/.test(typeWord(type));
}

interface Entry {
  who: string;
  start: number;
  end: number;
  type: string;
  era: DmesgEra;
}

function parseEntry(line: string): Entry | null {
  let m = ENTRY_NEW.exec(line);
  if (m) return { who: m[1].trim(), start: num(m[2]), end: num(m[3]) + 1, type: typeWord(m[4]), era: '3.5+' };
  m = ENTRY_OLD.exec(line);
  if (m) return { who: m[1].trim(), start: num(m[2]), end: num(m[3]), type: typeWord(m[4]), era: 'pre-3.5' };
  return null;
}

interface Edit {
  kind: 'update' | 'remove';
  start: number;
  end: number;
  /** Type the edit applies to ('' = any, for a remove without type). */
  from: string;
  to?: string;
  era: DmesgEra;
}

function parseEdit(line: string): Edit | null {
  let m = UPDATE_NEW.exec(line);
  if (m) return { kind: 'update', start: num(m[1]), end: num(m[2]) + 1, from: typeWord(m[3]), to: typeWord(m[4]), era: '3.5+' };
  m = REMOVE_NEW.exec(line);
  if (m) return { kind: 'remove', start: num(m[1]), end: num(m[2]) + 1, from: typeWord(m[3]), era: '3.5+' };
  m = UPDATE_OLD.exec(line);
  if (m) return { kind: 'update', start: num(m[1]), end: num(m[2]), from: typeWord(m[3]), to: typeWord(m[4]), era: 'pre-3.5' };
  m = REMOVE_OLD.exec(line);
  if (m) return { kind: 'remove', start: num(m[1]), end: num(m[2]), from: typeWord(m[3]), era: 'pre-3.5' };
  return null;
}

const hx = (n: number) => '0x' + n.toString(16);

function describeEdit(e: Edit): string {
  const range = `[${hx(e.start)}-${hx(e.end - 1)}]`;
  return e.kind === 'update' ? `update ${range} ${e.from} ==> ${e.to}` : `remove ${range}${e.from ? ' ' + e.from : ''}`;
}

/** Applies one update/remove to a table, splitting entries at the edit's bounds. */
export function applyEdit(
  table: readonly E820Entry[],
  edit: { kind: 'update' | 'remove'; start: number; end: number; from: string; to?: string },
): E820Entry[] {
  const out: E820Entry[] = [];
  for (const e of table) {
    const hit = e.start < edit.end && edit.start < e.end && (edit.from === '' || e.type === edit.from);
    if (!hit) {
      out.push(e);
      continue;
    }
    const lo = Math.max(e.start, edit.start);
    const hi = Math.min(e.end, edit.end);
    if (e.start < lo) out.push({ start: e.start, end: lo, type: e.type });
    if (edit.kind === 'update') out.push({ start: lo, end: hi, type: edit.to! });
    if (hi < e.end) out.push({ start: hi, end: e.end, type: e.type });
  }
  return out;
}

/** RAM entries of a table -> sorted ranges; overlapping RAM (firmware bugs) is joined, touching entries stay apart. */
export function ramRanges(table: readonly E820Entry[]): RamRange[] {
  const ram = table
    .filter((e) => isRamType(e.type) && e.end > e.start && e.start < Number.MAX_SAFE_INTEGER)
    .map((e) => ({ start: e.start, end: Math.min(e.end, Number.MAX_SAFE_INTEGER) }))
    .sort((a, b) => a.start - b.start);
  const out: { start: number; end: number }[] = [];
  for (const r of ram) {
    const last = out[out.length - 1];
    if (last && r.start < last.end) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out.map((r) => ({ start: r.start, length: r.end - r.start }));
}

class Boot {
  table: E820Entry[] = [];
  pending: Entry[] | null = null;
  pendingHeader = '';
  firmwareEntries = 0;
  firmwareRam = 0;
  pendingLine = 0;
  replacedAt?: number;
  edits: string[] = [];
  skipped: string[] = [];
  replacedBy?: string;
  era: DmesgEra = '3.5+';
  constructor(readonly firstLine: number) {}
  lastLine = 0;

  /** Ends a table being printed: the firmware one, or a full reprint that replaces the current table. */
  commitTable(): void {
    if (!this.pending) return;
    const entries = this.pending.map((e) => ({ start: e.start, end: e.end, type: e.type }));
    if (this.pendingHeader === 'BIOS-provided' || this.pendingHeader === '') {
      if (this.firmwareEntries === 0) {
        this.table = entries;
        this.firmwareEntries = entries.length;
        this.firmwareRam = ramRanges(entries).reduce((n, r) => n + r.length, 0);
        if (this.pending[0]) this.era = this.pending[0].era;
      }
    } else {
      this.table = entries;
      this.replacedBy = `${this.pendingHeader} physical RAM map`;
      this.replacedAt = this.pendingLine;
    }
    this.pending = null;
  }

  result(): DmesgMap {
    this.commitTable();
    return {
      ranges: ramRanges(this.table),
      entries: this.table,
      era: this.era,
      firstLine: this.firstLine,
      lastLine: this.lastLine,
      firmwareEntries: this.firmwareEntries,
      firmwareRam: this.firmwareRam,
      edits: this.edits,
      skipped: this.skipped,
      ...(this.replacedBy ? { replacedBy: this.replacedBy, replacedAt: this.replacedAt } : {}),
    };
  }
}

/**
 * Replays a boot log: every `BIOS-provided physical RAM map` (or a bare run of
 * `BIOS-e820:` entries) starts one boot's map; the tables and edits after it
 * shape that map until the next boot. Returns one map per boot, in log order.
 */
export function replayE820(lines: readonly string[]): DmesgMap[] {
  const boots: Boot[] = [];
  let boot: Boot | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const lineNo = i + 1;
    if (boot?.pending) {
      const entry = parseEntry(line);
      const who = boot.pending[0]?.who;
      if (entry && (who === undefined ? KNOWN_WHO.test(entry.who) || !UNRELATED_WHO.test(entry.who) : entry.who === who)) {
        boot.pending.push(entry);
        boot.lastLine = lineNo;
        continue;
      }
      if (GAP.test(line)) continue;
      boot.commitTable();
    }
    const header = HEADER.exec(line);
    if (header) {
      const kind = header[1];
      if (kind === 'BIOS-provided' || !boot) {
        boot = new Boot(lineNo);
        boots.push(boot);
      }
      boot.pending = [];
      boot.pendingHeader = kind;
      boot.pendingLine = lineNo;
      boot.lastLine = lineNo;
      continue;
    }
    const entry = parseEntry(line);
    if (entry && KNOWN_WHO.test(entry.who)) {
      // Entries without a header line (e.g. `grep BIOS-e820` output).
      if (FIRMWARE_WHO.test(entry.who) || !boot) {
        boot = new Boot(lineNo);
        boots.push(boot);
        boot.pendingHeader = '';
      } else {
        boot.pendingHeader = entry.who;
        boot.pendingLine = lineNo;
      }
      boot.pending = [entry];
      boot.lastLine = lineNo;
      continue;
    }
    if (!boot) continue;
    const edit = parseEdit(line);
    if (!edit) continue;
    const next = lines[i + 1] ?? '';
    const other = OTHER_TABLE.exec(next);
    if (edit.kind === 'update' && other) {
      boot.skipped.push(`${describeEdit(edit)} (line ${lineNo}: applies to ${other[1]}, not the RAM map)`);
      boot.lastLine = lineNo + 1;
      i++;
      continue;
    }
    boot.table = applyEdit(boot.table, edit);
    boot.edits.push(`${describeEdit(edit)} (line ${lineNo})`);
    boot.lastLine = lineNo;
  }
  return boots.map((b) => b.result());
}

/** Splits dmesg/syslog/journal text into lines and replays it. */
export function parseDmesg(text: string): DmesgMap[] {
  return replayE820(text.split(/\r?\n/));
}
