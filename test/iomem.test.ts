import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatIomemBytes, parseIomem } from '../src/maps/iomem';

const formatIomem = (ranges: Parameters<typeof formatIomemBytes>[0]) => formatIomemBytes(ranges).toString('latin1');

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'maps');

describe('iomem parser', () => {
  it('reads the real map of this kernel (6.18): top-level System RAM only, RAM above 4 GiB, unaligned end', () => {
    const ranges = parseIomem(fs.readFileSync(path.join(FIXTURES, 'real-6.x.iomem'), 'latin1'));
    // Written from the file by eye: 00001000-0009fbff, 00100000-bfffffff, 100000000-63fffffff (inclusive).
    expect(ranges).toEqual([
      { start: 0x1000, length: 0x9fc00 - 0x1000 },
      { start: 0x100000, length: 0xc0000000 - 0x100000 },
      { start: 0x100000000, length: 0x640000000 - 0x100000000 },
    ]);
  });

  it('does not count Kernel code/data children twice and ignores non-RAM lines', () => {
    const text = [
      '00000000-00000fff : Reserved',
      '00001000-0009fbff : System RAM',
      '00100000-3fffffff : System RAM',
      '  01000000-01ffffff : Kernel code',
      '  02000000-02ffffff : System RAM', // RAM nested inside RAM (LXC)
      '40000000-4fffffff : RAM buffer',
      'fec00000-fec003ff : IOAPIC 0',
    ].join('\n');
    expect(parseIomem(text)).toEqual([
      { start: 0x1000, length: 0x9ec00 },
      { start: 0x100000, length: 0x3ff00000 },
    ]);
  });

  it('round-trips through formatIomemBytes', () => {
    const ranges = [
      { start: 0x1000, length: 0x9ec00 },
      { start: 0x100000000, length: 0x100000 },
    ];
    expect(formatIomem(ranges)).toBe('00001000-0009fbff : System RAM\n100000000-1000fffff : System RAM\n');
    expect(parseIomem(formatIomem(ranges))).toEqual(ranges);
  });

  it('refuses a map read without root', () => {
    const text = '00000000-00000000 : Reserved\n00000000-00000000 : System RAM\n00000000-00000000 : System RAM\n';
    expect(() => parseIomem(text)).toThrow(/every iomem line reads 00000000-00000000: it was read without root/);
  });

  it('refuses overlapping and unsorted RAM ranges, naming both', () => {
    expect(() => parseIomem('00001000-00004fff : System RAM\n00003000-00008fff : System RAM\n')).toThrow(
      'iomem: RAM ranges 0x1000-0x4fff and 0x3000-0x8fff overlap',
    );
    expect(() => parseIomem('00100000-001fffff : System RAM\n00001000-00001fff : System RAM\n')).toThrow(/are out of order/);
  });

  it('refuses text that is not iomem, naming the line', () => {
    expect(() => parseIomem('hello world\n')).toThrow(/line 1 is not iomem syntax/);
    expect(() => parseIomem('00000000-00000fff : Reserved\n')).toThrow(/no System RAM ranges/);
  });
});
