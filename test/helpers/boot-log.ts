/**
 * Independent writer of x86 kernel boot logs carrying an e820 map, in the
 * printk wording of each era (arch/x86/kernel/e820.c; formats.md section 3.1).
 * Nothing here imports src/.
 */

export interface E820Line {
  start: number;
  /** inclusive */
  end: number;
  /** e820_print_type word in >= 3.5 wording: usable, reserved, ACPI data, ACPI NVS, … */
  type: string;
}

export interface EditLine {
  kind: 'update' | 'remove';
  start: number;
  /** inclusive */
  end: number;
  from: string;
  to?: string;
  /** The update went to another table: the kernel prints a second line saying so. */
  otherTable?: boolean;
}

// A small machine's firmware map and the kernel's edits; FINAL is the map they leave (derived by hand).
export const FIRMWARE: E820Line[] = [
  { start: 0, end: 0x9fbff, type: 'usable' },
  { start: 0x9fc00, end: 0x9ffff, type: 'reserved' },
  { start: 0xf0000, end: 0xfffff, type: 'reserved' },
  { start: 0x100000, end: 0x4fffff, type: 'usable' },
  { start: 0x500000, end: 0x7fffff, type: 'ACPI NVS' },
  { start: 0x800000, end: 0x8fffff, type: 'usable' },
  { start: 0xfffc0000, end: 0xffffffff, type: 'reserved' },
];
// What the kernel ended with (small, so the padded file is a few MiB).
export const FINAL = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x4fffff },
  { start: 0x800000, end: 0x8fffff },
];
export const EDITS: EditLine[] = [
  { kind: 'update', start: 0, end: 0xfff, from: 'usable', to: 'reserved' },
  { kind: 'remove', start: 0xa0000, end: 0xfffff, from: 'usable' },
  { kind: 'update', start: 0x4ff000, end: 0x4fffff, from: 'usable', to: 'reserved', otherTable: true },
];

export type Era = 'pre-3.5' | '3.5' | '4.12' | '7.0';

const h16 = (n: number) => n.toString(16).padStart(16, '0');
const mem18 = (n: number) => '0x' + n.toString(16).padStart(16, '0');
const mem10 = (n: number) => '0x' + n.toString(16).padStart(8, '0');

function typeWord(era: Era, t: string): string {
  if (era === 'pre-3.5') return /^type \d+$/.test(t) ? t : `(${t})`;
  if (era === '7.0' && t === 'reserved') return 'device reserved';
  return t;
}

/** The messages (no prefixes) of an early boot log: banner, map, edits, filler. */
export function bootMessages(era: Era, firmware: E820Line[], edits: EditLine[], release = 'test'): string[] {
  const out: string[] = [
    `Linux version ${release} (builder@ci) (gcc version 12.2.0) #1 SMP`,
    `Command line: BOOT_IMAGE=/boot/vmlinuz-${release} root=/dev/vda1 ro quiet`,
  ];
  out.push(era === '3.5' ? 'e820: BIOS-provided physical RAM map:' : 'BIOS-provided physical RAM map:');
  let prevEnd = 0;
  for (const e of firmware) {
    if (era === 'pre-3.5') {
      out.push(` BIOS-e820: ${h16(e.start)} - ${h16(e.end + 1)} ${typeWord(era, e.type)}`);
    } else {
      if (era === '7.0' && e.start > prevEnd) out.push(`BIOS-e820: [gap ${mem18(prevEnd)}-${mem18(e.start - 1)}]`);
      out.push(`BIOS-e820: [mem ${mem18(e.start)}-${mem18(e.end)}] ${typeWord(era, e.type)}`);
    }
    prevEnd = e.end + 1;
  }
  out.push('NX (Execute Disable) protection: active', 'SMBIOS 2.8 present.', 'Hypervisor detected: KVM');
  for (const e of edits) {
    if (era === 'pre-3.5') {
      out.push(
        e.kind === 'update'
          ? `e820 update range: ${h16(e.start)} - ${h16(e.end + 1)} ${typeWord(era, e.from)} ==> ${typeWord(era, e.to!)}`
          : `e820 remove range: ${h16(e.start)} - ${h16(e.end + 1)} ${typeWord(era, e.from)}`,
      );
    } else {
      out.push(
        e.kind === 'update'
          ? `e820: update [mem ${mem10(e.start)}-${mem10(e.end)}] ${typeWord(era, e.from)} ==> ${typeWord(era, e.to!)}`
          : `e820: remove [mem ${mem10(e.start)}-${mem10(e.end)}] ${typeWord(era, e.from)}`,
      );
    }
    if (e.otherTable) {
      out.push(
        era === 'pre-3.5'
          ? 'update e820_saved for early_reserve_e820'
          : era === '3.5'
            ? 'e820: update e820_saved for early_reserve_e820'
            : 'update e820_table_kexec for e820__memblock_alloc_reserved()',
      );
    }
  }
  out.push('Using GB pages for direct mapping', 'ACPI: Early table checksum verification disabled', 'Zone ranges:');
  return out;
}

/** `dmesg` output: `[    0.000000] message` lines. */
export function dmesgText(messages: string[]): string {
  return messages.map((m, i) => `[    0.${String(i * 17).padStart(6, '0')}] ${m}\n`).join('');
}

/** printk level of a message as the kernel logs it: e820 edits are KERN_DEBUG, the rest KERN_INFO. */
const level = (m: string) => (/^e820:? (update|remove)/.test(m) ? 7 : 6);
const ts = (i: number) => `[    0.${String(i * 17).padStart(6, '0')}]`;

/** <= 3.4 log_buf: one text buffer of `<level>[timestamp] message\n` lines. */
export function oldLogBuf(messages: string[]): Buffer {
  return Buffer.from(messages.map((m, i) => `<${level(m)}>${ts(i)} ${m}\n`).join(''), 'latin1');
}

/**
 * 3.5-5.9 log_buf: struct printk_log records. Header: u64 ts_nsec, u16 len,
 * u16 text_len, u16 dict_len, u8 facility, u8 flags:5|level:3 (then u32
 * caller_id with CONFIG_PRINTK_CALLER); text without newline; len padded to
 * `align`. Ends with a zero header (len 0: the wrap marker).
 */
export function printkLogRecords(messages: string[], opts: { align?: number; callerId?: boolean } = {}): Buffer {
  const align = opts.align ?? 8;
  const hdr = opts.callerId ? 20 : 16;
  const parts: Buffer[] = [];
  messages.forEach((m, i) => {
    const text = Buffer.from(m, 'latin1');
    const len = Math.ceil((hdr + text.length) / align) * align;
    const rec = Buffer.alloc(len);
    rec.writeBigUInt64LE(BigInt(i) * 17000n, 0);
    rec.writeUInt16LE(len, 8);
    rec.writeUInt16LE(text.length, 10);
    rec.writeUInt16LE(0, 12);
    rec[14] = 0; // facility: kernel
    rec[15] = (level(m) << 5) | 0x04; // level:3 in the top bits; flags LOG_NEWLINE
    if (opts.callerId) rec.writeUInt32LE(1, 16);
    text.copy(rec, hdr);
    parts.push(rec);
  });
  parts.push(Buffer.alloc(16));
  return Buffer.concat(parts);
}

/**
 * >= 5.10 printk_ringbuffer data ring: per record an `unsigned long id` (LE),
 * the text, and the tail printk leaves in the space it reserved (prefix, text,
 * newline) after moving the text over the 2-byte level prefix: "\x01c\n" for
 * e820 lines (completed by pr_cont), else the text's last 2 bytes and "\n";
 * padded to 8 bytes. As Debian's 6.1 kernel leaves them. Ids start at the
 * first-record id of a fresh ring: DESC0_ID + 1, where DESC0_ID is computed
 * in 32-bit unsigned arithmetic (-(2^bits + 1)), so 0xfffff000 for the default
 * 4096 descriptors (CONFIG_LOG_BUF_SHIFT=17); they count up by one per record.
 */
export function ringbufferBlocks(messages: string[], firstId = 0xfffff000n): Buffer {
  const parts: Buffer[] = [];
  messages.forEach((m, i) => {
    const tail = /^(BIOS-)?e820/.test(m) ? '\x01c\n' : `${m.slice(-2)}\n`;
    const text = Buffer.from(m + tail, 'latin1');
    const blk = Buffer.alloc(8 + Math.ceil(text.length / 8) * 8);
    blk.writeBigUInt64LE((firstId + BigInt(i)) & ((1n << 62n) - 1n), 0);
    text.copy(blk, 8);
    parts.push(blk);
  });
  return Buffer.concat(parts);
}
