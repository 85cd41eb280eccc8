import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Chunk, expectedLime, expectedPadded, expectedRaw, iomemText, Range, ramBytes, writeChunks } from './helpers/machine';
import { limeImage, limeModuleData, limeModuleImage, saltedRam } from './helpers/source-writers';
import { expectSameBytes, open } from './support/views';

/**
 * A small machine with every LiME edge: a range ending mid-page (0x9fbff),
 * two adjacent ranges split at an unaligned byte, a range starting mid-page
 * (0x1201800) whose last step is partial.
 */
const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x2f3017 },
  { start: 0x2f3018, end: 0x3fffff },
  { start: 0x1000000, end: 0x10fffff },
  { start: 0x1201800, end: 0x1204fff },
];
const SALT = 0x1234;
const MEM = saltedRam(SALT);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memview-lime-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, chunks: Chunk[] | Buffer): string {
  const file = path.join(dir, name);
  if (Buffer.isBuffer(chunks)) fs.writeFileSync(file, chunks);
  else writeChunks(file, chunks);
  return file;
}

/** The ranges with adjacent ones joined: what a LiME reader reports as RAM. */
const MERGED: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x3fffff },
  { start: 0x1000000, end: 0x10fffff },
  { start: 0x1201800, end: 0x1204fff },
];

describe('LiME source', () => {
  it('is detected by its magic and serves every view byte for byte', async () => {
    const src = await open(write('exact.lime', limeImage(RANGES, MEM)));
    try {
      expect(src.source.format).toBe('lime');
      expect(src.source.detectedBy).toMatch(/LiME magic/);
      expect(src.source.ranges).toEqual(MERGED.map((r) => ({ start: r.start, length: r.end - r.start + 1 })));
      expect(src.source.notes.join('\n')).toMatch(/merged 5 LiME records into 4 RAM ranges/);
      expectSameBytes(await src.read('padded.raw'), expectedPadded(MERGED, SALT), 'padded.raw');
      expectSameBytes(await src.read('memory.lime'), expectedLime(MERGED, SALT), 'memory.lime');
      expectSameBytes(await src.read('raw.bin'), expectedRaw(MERGED, SALT), 'raw.bin');
      expect((await src.read('iomem.txt')).toString()).toBe(
        '00001000-0009fbff : System RAM\n00100000-003fffff : System RAM\n01000000-010fffff : System RAM\n01201800-01204fff : System RAM\n',
      );
    } finally {
      src.close();
    }
  });

  it('with --map keeps the map ranges (the adjacent split stays two ranges)', async () => {
    const map = write('exact.iomem', Buffer.from(iomemText(RANGES)));
    const src = await open(write('exact2.lime', limeImage(RANGES, MEM)), { map });
    try {
      expect(src.source.ranges.length).toBe(5);
      expectSameBytes(await src.read('memory.lime'), expectedLime(RANGES, SALT), 'memory.lime');
    } finally {
      src.close();
    }
  });

  it("reports the LiME module's quirks and serves its bytes as written", async () => {
    const src = await open(write('module.lime', limeModuleImage(RANGES, MEM)));
    try {
      const notes = src.source.notes.join('\n');
      expect(notes).toMatch(/range 0x1000-0x9fbff is not whole pages and its last 3072 bytes of data \(physical 0x9f000-0x9fbff\) are zero/);
      expect(notes).toMatch(/range 0x2f3018-0x3fffff starts mid-page: .* physical address - 0x18/);
      expect(notes).toMatch(/range 0x1201800-0x1204fff starts mid-page/);
      expect(notes).toMatch(/range 0x1201800-0x1204fff is not whole pages and its last 2048 bytes of data \(physical 0x1204800-0x1204fff\) are zero/);
      // Served as written: not silently fixed.
      const raw = Buffer.concat(RANGES.map((r) => limeModuleData(r, MEM)));
      expectSameBytes(await src.read('raw.bin'), raw, 'raw.bin');
    } finally {
      src.close();
    }
  });

  it('--repair-lime-shift serves the true bytes of ranges that start mid-page and zeros where unknown', async () => {
    const src = await open(write('module2.lime', limeModuleImage(RANGES, MEM)), { repairLimeShift: true });
    try {
      const padded = await src.read('padded.raw');
      // 0x1201800-0x1204fff: the module wrote pages 0x1201000..0x1203fff in full, then 0x800 zeros.
      const r = { start: 0x1201800, end: 0x1204fff };
      expectSameBytes(padded.subarray(r.start, 0x1204000), ramBytes(r.start, 0x1204000 - r.start, SALT), 'repaired known bytes');
      expect(padded.subarray(0x1204000, r.end + 1).every((b) => b === 0)).toBe(true);
      // 0x2f3018-0x3fffff: true data from 0x2f3018 up to where the partial last step begins.
      expectSameBytes(padded.subarray(0x2f3018, 0x3ff000), ramBytes(0x2f3018, 0x3ff000 - 0x2f3018, SALT), 'repaired 0x2f3018');
      expect(src.source.notes.join('\n')).toMatch(/0x1204800-0x1204fff are unknown and read as zeros/);
      // Un-shifted, the module's zeroed partial step lands at 0x1204000-0x12047ff: the note says where it is served.
      expect(src.source.notes.join('\n')).toMatch(
        /range 0x1201800-0x1204fff is not whole pages and its last 2048 bytes of data \(physical 0x1204000-0x12047ff\) are zero/,
      );
      // Aligned ranges are untouched.
      expectSameBytes(padded.subarray(0x1000000, 0x1100000), ramBytes(0x1000000, 0x100000, SALT), 'aligned range');
    } finally {
      src.close();
    }
  });

  it('flags ranges one byte short (AVML-written LiME)', async () => {
    const short = RANGES.slice(0, 1).map((r) => ({ start: r.start, end: r.end - 1 }));
    const src = await open(write('avml1.lime', limeImage(short, MEM)));
    try {
      expect(src.source.notes.join('\n')).toMatch(/0x1000-0x9fbfe ends one byte before a 1 KiB boundary: AVML/);
    } finally {
      src.close();
    }
  });
});

describe('detection', () => {
  it('raw with a map, padded by size, --format overrides', async () => {
    const ranges: Range[] = [
      { start: 0x1000, end: 0x9fbff },
      { start: 0x100000, end: 0x1fffff },
    ];
    const map = write('small.iomem', Buffer.from(iomemText(ranges)));
    const raw = await open(write('small.raw', expectedRaw(ranges)), { map });
    const padded = await open(write('small.padded', expectedPadded(ranges)), { map });
    const forced = await open(write('small2.padded', expectedPadded(ranges)), { format: 'padded' });
    try {
      expect(raw.source.format).toBe('raw');
      expect(padded.source.format).toBe('padded');
      expect(padded.source.detectedBy).toMatch(/file size equals the map's last RAM byte \+ 1/);
      expect(forced.source.detectedBy).toBe('forced by --format');
      expect(forced.source.ranges).toEqual([{ start: 0, length: 0x200000 }]);
    } finally {
      raw.close();
      padded.close();
      forced.close();
    }
  });

  it('AVML is recognised and handed to the AVML parser', async () => {
    const h = Buffer.alloc(64);
    h.write('AVML', 0, 'latin1');
    h.writeUInt32LE(2, 4);
    await expect(open(write('x.avml', h))).rejects.toThrow(
      /x\.avml: AVML record at file offset 0x0: expected the Snappy stream identifier at file offset 0x20/,
    );
  });
});
