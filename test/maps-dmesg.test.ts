import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyEdit, parseDmesg } from '../src/maps/dmesg';
import { parseIomem } from '../src/maps/iomem';
import { RamRange } from '../src/types';
import { formatExpected, readExpectedMaps } from './helpers/expected-map';

const DIR = path.join(__dirname, '..', 'fixtures', 'maps', 'dmesg');
const asLines = (ranges: RamRange[]) => formatExpected(ranges.map((r) => ({ start: r.start, end: r.start + r.length - 1 })));

describe('dmesg e820 maps, every era (hand-derived expected maps)', () => {
  const fixtures = fs
    .readdirSync(DIR)
    .filter((f) => f.endsWith('.expected'))
    .map((f) => f.replace(/\.expected$/, ''));

  it('has a fixture for every era and edit kind', () => {
    expect(fixtures.sort()).toEqual([
      'dmesg-raw-levels',
      'era-2.6-reserve-low',
      'era-3.x-saved-trap',
      'era-6.x-syslog-kexec',
      'era-7.0-wording',
      'grep-entries-blog',
      'kmsg-pre-3.5',
      'syslog-two-boots',
      'user-defined-journalctl',
    ]);
  });

  for (const name of fixtures) {
    it(name, () => {
      const maps = parseDmesg(fs.readFileSync(path.join(DIR, `${name}.dmesg`), 'latin1'));
      const expected = readExpectedMaps(path.join(DIR, `${name}.expected`));
      expect(maps.map((m) => asLines(m.ranges))).toEqual(expected.map(formatExpected));
    });
  }

  it('reports the era, the edits replayed and the edits skipped', () => {
    const [old] = parseDmesg(fs.readFileSync(path.join(DIR, 'era-2.6-reserve-low.dmesg'), 'latin1'));
    expect(old.era).toBe('pre-3.5');
    expect(old.firmwareEntries).toBe(6);
    expect(old.edits).toEqual(['update [0x0-0xffff] usable ==> reserved (line 17)', 'remove [0xa0000-0xfffff] usable (line 18)']);
    expect(old.skipped).toEqual(['update [0x3ffef000-0x3ffeffff] usable ==> reserved (line 21: applies to e820_saved, not the RAM map)']);
    const [kexec] = parseDmesg(fs.readFileSync(path.join(DIR, 'era-6.x-syslog-kexec.dmesg'), 'latin1'));
    expect(kexec.era).toBe('3.5+');
    expect(kexec.replacedBy).toBe('extended physical RAM map');
    expect(kexec.skipped).toHaveLength(1);
    expect(kexec.skipped[0]).toContain('e820_table_kexec');
    const [user] = parseDmesg(fs.readFileSync(path.join(DIR, 'user-defined-journalctl.dmesg'), 'latin1'));
    expect(user.replacedBy).toBe('user-defined physical RAM map');
  });

  it('finds nothing in a log without e820 lines (arm64 boot, node and zone [mem] lines)', () => {
    expect(parseDmesg(fs.readFileSync(path.join(DIR, 'no-e820.dmesg'), 'latin1'))).toEqual([]);
  });

  it('real pair from one machine (kernel 6.18): the replayed dmesg map equals its /proc/iomem', () => {
    const maps = parseDmesg(fs.readFileSync(path.join(DIR, '..', 'real-6.x.dmesg'), 'latin1'));
    expect(maps).toHaveLength(1);
    const iomem = parseIomem(fs.readFileSync(path.join(DIR, '..', 'real-6.x.iomem'), 'latin1'));
    expect(maps[0].ranges).toEqual(iomem);
    expect(maps[0].edits).toHaveLength(2);
  });

  it('the same text with CRLF line ends, and without any prefix, gives the same map', () => {
    const text = fs.readFileSync(path.join(DIR, 'era-3.x-saved-trap.dmesg'), 'latin1');
    const bare = text.replace(/^\[[ 0-9.]+\] /gm, '');
    const a = parseDmesg(text)[0].ranges;
    expect(parseDmesg(bare.replace(/\n/g, '\r\n'))[0].ranges).toEqual(a);
  });
});

describe("applyEdit (the kernel's range update/remove)", () => {
  const table = [
    { start: 0, end: 0x10000, type: 'usable' },
    { start: 0x10000, end: 0x20000, type: 'reserved' },
    { start: 0x20000, end: 0x40000, type: 'usable' },
  ];
  it('splits an entry when the edit falls inside it', () => {
    expect(applyEdit(table, { kind: 'update', start: 0x28000, end: 0x29000, from: 'usable', to: 'reserved' })).toEqual([
      table[0],
      table[1],
      { start: 0x20000, end: 0x28000, type: 'usable' },
      { start: 0x28000, end: 0x29000, type: 'reserved' },
      { start: 0x29000, end: 0x40000, type: 'usable' },
    ]);
  });
  it('touches only entries of the named type; a remove without a type removes any', () => {
    expect(applyEdit(table, { kind: 'remove', start: 0x8000, end: 0x30000, from: 'usable' })).toEqual([
      { start: 0, end: 0x8000, type: 'usable' },
      table[1],
      { start: 0x30000, end: 0x40000, type: 'usable' },
    ]);
    expect(applyEdit(table, { kind: 'remove', start: 0x8000, end: 0x30000, from: '' })).toEqual([
      { start: 0, end: 0x8000, type: 'usable' },
      { start: 0x30000, end: 0x40000, type: 'usable' },
    ]);
  });
});
