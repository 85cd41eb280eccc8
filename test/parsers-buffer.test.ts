/**
 * Parsers on a BufferSource (no file): what they read, and how often. The
 * images come from the reference writers in test/helpers, which do not
 * import src/.
 */
import { describe, expect, it } from 'vitest';
import { BufferSource, ByteSource } from '../src/io/byte-source';
import { parseElf } from '../src/sources/elf';
import { parseLime } from '../src/sources/lime';
import { materialise } from './helpers/machine';
import { elfCoreImage, limeImage } from './helpers/source-writers';

/** A BufferSource that counts its reads. */
class CountingSource implements ByteSource {
  reads = 0;
  private readonly inner: BufferSource;
  readonly size: number;
  readonly label = 'counted';

  constructor(bytes: Buffer) {
    this.inner = new BufferSource(bytes);
    this.size = bytes.length;
  }

  read(target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number> {
    this.reads++;
    return this.inner.read(target, targetOffset, length, position);
  }

  close(): void {}
}

describe('LiME parser', () => {
  it('reads a LiME of 1,000,000 records in a few hundred block reads, not one per record', async () => {
    const records = 1_000_000;
    // One byte of RAM at the start of every other page: no two records adjacent, none mid-page (LiME src/lime.h layout).
    const bytes = Buffer.alloc(records * 33);
    for (let i = 0; i < records; i++) {
      const at = i * 33;
      bytes.write('EMiL', at, 'latin1');
      bytes.writeUInt32LE(1, at + 4);
      bytes.writeBigUInt64LE(BigInt(i * 0x2000), at + 8);
      bytes.writeBigUInt64LE(BigInt(i * 0x2000), at + 16);
      bytes[at + 32] = 0x80 | (i % 127);
    }
    const image = new CountingSource(bytes);
    const parsed = await parseLime(image);
    expect(parsed.segments).toHaveLength(records);
    expect(parsed.ranges).toHaveLength(records);
    expect(parsed.segments[records - 1]).toEqual({ phys: (records - 1) * 0x2000, length: 1, offset: (records - 1) * 33 + 32 });
    expect(image.reads).toBeLessThan(300);
  });

  it('names the record at fault by its file offset', async () => {
    const bytes = materialise(
      limeImage([
        { start: 0x1000, end: 0x1fff },
        { start: 0x3000, end: 0x3fff },
      ]),
    );
    bytes.writeUInt32LE(2, 32 + 0x1000 + 4); // second header's version
    await expect(parseLime(new BufferSource(bytes, 'two.lime'))).rejects.toThrow(
      'two.lime: LiME version 2 at file offset 0x1024 is not supported (expected 1)',
    );
  });
});

describe('ELF parser', () => {
  it('a core of 100,000 overlapping PT_LOADs: one table read, the earlier header wins (a sweep, not a pairwise subtraction)', async () => {
    const n = 100_000;
    // Load k: 0x40 data bytes at 0x40 * k, p_memsz 0x60: its zero tail covers the next load's first 0x20 bytes, and wins them.
    const loads = Array.from({ length: n }, (_, k) => ({ paddr: BigInt(k * 0x40), data: Buffer.alloc(0x40, 1 + (k % 251)), memsz: 0x60 }));
    const image = new CountingSource(materialise(elfCoreImage(loads, [], { xnum: true })));
    const parsed = await parseElf(image);
    const dataAt = (k: number) => 64 + (n + 1) * 56 + k * 0x40; // the writer packs data after the header and program headers
    expect(parsed.ranges).toEqual([{ start: 0, length: n * 0x40 + 0x20 }]);
    expect(parsed.segments).toHaveLength(2 * n);
    expect(parsed.segments.slice(0, 4)).toEqual([
      { phys: 0, length: 0x40, offset: dataAt(0) },
      { phys: 0x40, length: 0x20, offset: null },
      { phys: 0x60, length: 0x20, offset: dataAt(1) + 0x20 },
      { phys: 0x80, length: 0x20, offset: null },
    ]);
    // One note per header would be 100,000 lines: ten of each kind, then a count.
    expect(parsed.notes.filter((t) => t.includes('overlaps earlier segments by 0x20 bytes'))).toHaveLength(10);
    expect(parsed.notes).toContain(`... and ${n - 1 - 10} more overlapping PT_LOADs like these (${n - 1} in all)`);
    expect(parsed.notes).toContain(`... and ${n - 10} more PT_LOADs with p_filesz < p_memsz like these (${n} in all)`);
    expect(image.reads).toBeLessThanOrEqual(4); // header, section header 0, program header table, the PT_NOTE
  });
});
