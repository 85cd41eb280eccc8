import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PIECE_BYTES, PIECE_SOURCE, PIECE_ZERO, PieceTable, PieceTableBuilder } from '../src/engine/piece-table';
import { BufferSource } from '../src/io/byte-source';
import { FileSource } from '../src/io/file-source';
import { VirtualFile } from '../src/engine/virtual-file';
import { openSource } from '../src/sources/open';
import { buildViews } from '../src/views/index';
import { tempDir } from './helpers/cli';
import { Chunk, expectedLime, expectedPadded, expectedRaw, materialise, Range, writeMachine } from './helpers/machine';

const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x2fffff },
  { start: 0x3000000, end: 0x30fffff },
];

type Row = ['bytes', string] | ['zero', number] | ['source', number, number];

/** A table from rows written out by hand. */
function table(rows: Row[]): PieceTable {
  const b = new PieceTableBuilder(1, 1);
  for (const r of rows) {
    if (r[0] === 'bytes') b.bytes(Buffer.from(r[1], 'latin1'));
    else if (r[0] === 'zero') b.zero(r[1]);
    else b.source(r[1], r[2]);
  }
  return b.build();
}

const KIND_NAMES = { [PIECE_ZERO]: 'zero', [PIECE_BYTES]: 'bytes', [PIECE_SOURCE]: 'source' } as Record<number, string>;

/** Offsets worth reading at: every piece edge of the reference, ±1, and the ends. */
function edges(chunks: Chunk[]): number[] {
  const out = new Set<number>([0]);
  let at = 0;
  for (const c of chunks) {
    at += Buffer.isBuffer(c) ? c.length : c.zeros;
    for (const d of [-4097, -1, 0, 1, 4095]) if (at + d >= 0) out.add(at + d);
  }
  return [...out].sort((a, b) => a - b);
}

describe('engine reads equal the materialised reference at every boundary', () => {
  const tmp = tempDir();
  const m = writeMachine(path.join(tmp, 'm'), RANGES, 0x1234);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('with the image read in place (FileSource, the default for image files)', async () => {
    const source = await openSource(m.raw, { map: m.iomem });
    try {
      const views = buildViews(source);
      const refs: [string, Chunk[]][] = [
        ['padded.raw', expectedPadded(RANGES, m.salt)],
        ['memory.lime', expectedLime(RANGES, m.salt)],
        ['raw.bin', expectedRaw(RANGES, m.salt)],
      ];
      for (const [name, chunks] of refs) {
        const file = views.find((v) => v.name === name)!.file;
        const ref = materialise(chunks);
        expect(file.size, name).toBe(ref.length);
        for (const at of edges(chunks)) {
          for (const len of [0, 1, 2, 4096, 3 * 4096 + 17, 1 << 20]) {
            const buf = Buffer.alloc(len);
            const n = await file.read(buf, at, len);
            const want = ref.subarray(Math.min(at, ref.length), Math.min(ref.length, at + len));
            expect(n, `${name} read(${at}, ${len})`).toBe(want.length);
            if (!buf.subarray(0, n).equals(want)) throw new Error(`${name} read(${at}, ${len}) differs from the reference`);
          }
        }
        // Past the end: short, then nothing.
        expect(await file.read(Buffer.alloc(10), ref.length - 3, 10)).toBe(3);
        expect(await file.read(Buffer.alloc(10), ref.length, 10)).toBe(0);
        expect(await file.read(Buffer.alloc(10), ref.length + 1e9, 10)).toBe(0);
      }
    } finally {
      source.close();
    }
  });

  it('reads across three pieces of every kind in one call', async () => {
    const store = new BufferSource(Buffer.from('0123456789abcdef'));
    const v = new VirtualFile(
      table([
        ['bytes', 'HDR'],
        ['zero', 2],
        ['source', 10, 6],
        ['bytes', '!'],
      ]),
      store,
    );
    expect(v.size).toBe(12);
    const buf = Buffer.alloc(12);
    expect(await v.read(buf, 0, 12)).toBe(12);
    expect(buf.toString('latin1')).toBe('HDR\0\0abcdef!');
    const mid = Buffer.alloc(5);
    expect(await v.read(mid, 2, 5)).toBe(5);
    expect(mid.toString('latin1')).toBe('R\0\0ab');
  });

  it('merges neighbouring pieces at mount time so reads cross few pieces', () => {
    const v = new VirtualFile(
      table([
        ['zero', 5],
        ['zero', 5],
        ['source', 0, 4],
        ['source', 4, 4],
        ['source', 100, 1],
        ['zero', 0],
        ['bytes', 'ab'],
        ['bytes', 'cd'],
      ]),
      new BufferSource(Buffer.alloc(101)),
    );
    const t = v.table();
    expect(Array.from(t.kinds, (k, i) => [KIND_NAMES[k], t.starts[i], t.lengths[i], t.offsets[i]])).toEqual([
      ['zero', 0, 10, 0],
      ['source', 10, 8, 0],
      ['source', 18, 1, 100],
      ['bytes', 19, 4, 0], // one run of the table's bytes
    ]);
    expect(t.bytes.toString('latin1')).toBe('abcd');
    expect(v.size).toBe(23);
    expect(v.dataBytes()).toBe(13);
  });

  it('fails a read with EIO semantics when the source is shorter than its layout', async () => {
    const file = path.join(tmp, 'short.bin');
    fs.writeFileSync(file, Buffer.alloc(100, 1));
    const image = FileSource.open(file);
    for (const store of [image, new BufferSource(Buffer.alloc(100, 1))]) {
      const v = new VirtualFile(table([['source', 0, 200]]), store);
      await expect(v.read(Buffer.alloc(50), 120, 50)).rejects.toThrow(/short read/);
    }
    image.close();
  });
});
