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
