import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LOG_NEEDLE, LogForm, LogMap, mapAt } from '../src/maps/scan';
import { bootMessages, dmesgText, EDITS, Era, FINAL, FIRMWARE, oldLogBuf, printkLogRecords, ringbufferBlocks } from './helpers/boot-log';

/** Every LOG_NEEDLE hit in a buffer that starts a boot log's map (what the streaming scan does per hit). */
function findLogMaps(buf: Buffer): LogMap[] {
  const out: LogMap[] = [];
  for (let hit = buf.indexOf(LOG_NEEDLE); hit >= 0; hit = buf.indexOf(LOG_NEEDLE, hit + 1)) {
    const m = mapAt(buf, hit);
    if (m) out.push(m);
  }
  return out;
}

const asLines = (ranges: { start: number; length: number }[]) => ranges.map((r) => `0x${r.start.toString(16)}-0x${(r.start + r.length - 1).toString(16)}`);
const EXPECTED = FINAL.map((r) => `0x${r.start.toString(16)}-0x${r.end.toString(16)}`);

/** What the kernel's own rodata holds: the printk format strings (KERN_INFO = "\x01" "6"). */
const RODATA = Buffer.from('\x016BIOS-provided physical RAM map:\n\0\x016%s: [mem %#018Lx-%#018Lx] \0\x01c\n\0', 'latin1');

function embed(log: Buffer, at = 4093): Buffer {
  return Buffer.concat([randomBytes(at), RODATA, randomBytes(777), log, randomBytes(3000)]);
}

const FORMS: { name: string; form: LogForm; era: Era; bytes: (m: string[]) => Buffer }[] = [
  { name: 'dmesg text copy (page cache), 6.x wording', form: 'text', era: '4.12', bytes: (m) => Buffer.from(dmesgText(m)) },
  { name: '<= 3.4 log_buf text (<6>[ts] lines)', form: 'text', era: 'pre-3.5', bytes: oldLogBuf },
  { name: '3.5-5.9 printk_log records, 8-byte aligned, no newlines', form: 'printk_log', era: '3.5', bytes: (m) => printkLogRecords(m) },
  {
    name: 'printk_log records, 4-byte aligned with caller_id (x86, CONFIG_PRINTK_CALLER)',
    form: 'printk_log',
    era: '4.12',
    bytes: (m) => printkLogRecords(m, { align: 4, callerId: true }),
  },
  { name: '>= 5.10 printk_ringbuffer text blocks', form: 'printk_ringbuffer', era: '4.12', bytes: (m) => ringbufferBlocks(m) },
  {
    name: 'printk_ringbuffer with ids wrapping to 0 inside the map',
    form: 'printk_ringbuffer',
    era: '7.0',
    bytes: (m) => ringbufferBlocks(m, (1n << 62n) - 5n),
  },
];

describe('boot log recognisers over raw memory', () => {
  for (const f of FORMS) {
    it(`${f.name}: finds the map with the kernel's edits replayed`, () => {
      const found = findLogMaps(embed(f.bytes(bootMessages(f.era, FIRMWARE, EDITS))));
      expect(found).toHaveLength(1);
      expect(found[0].form).toBe(f.form);
      expect(asLines(found[0].map.ranges)).toEqual(EXPECTED);
      expect(found[0].map.skipped).toHaveLength(1);
    });
  }

  it("records separated by binary headers: no entry is skipped or merged with the next (raw2padded's greedy regex)", () => {
    const many = FIRMWARE.flatMap((e, i) => [e, { start: 0x1000000 * (i + 2), end: 0x1000000 * (i + 2) + 0xfff, type: 'ACPI data' }]);
    many.sort((a, b) => a.start - b.start);
    const [m] = findLogMaps(embed(printkLogRecords(bootMessages('3.5', many, []))));
    expect(m.map.firmwareEntries).toBe(many.length);
  });

  it("the kernel's own format strings are not a log", () => {
    expect(findLogMaps(Buffer.concat([randomBytes(100), RODATA, randomBytes(100)]))).toEqual([]);
  });

  it('a log whose later records were overwritten still gives its firmware map', () => {
    const msgs = bootMessages('4.12', FIRMWARE, EDITS);
    const cut = msgs.findIndex((m) => m.startsWith('NX '));
    const log = ringbufferBlocks(msgs.slice(0, cut));
    const [m] = findLogMaps(embed(Buffer.concat([log, randomBytes(64)])));
    expect(m.map.edits).toEqual([]);
    expect(asLines(m.map.ranges)).toEqual(['0x0-0x9fbff', '0x100000-0x4fffff', '0x800000-0x8fffff']);
  });
});
