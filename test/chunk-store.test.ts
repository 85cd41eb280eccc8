/**
 * io/chunk-store: a decoded stream over any chunk decoder, one process-wide
 * cache budget, read-ahead for sequential readers. The decoder here is the
 * simplest possible "format": chunk i is `length` copies of byte i.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SourceIOError } from '../src/io/byte-source';
import { cacheBytes, cacheEntries, setCacheBudget } from '../src/io/byte-cache';
import { ChunkIndex, ChunkStore, perChunk } from '../src/io/chunk-store';

function store(chunks: number, size: number, label = 'test') {
  const index = new ChunkIndex();
  for (let i = 0; i < chunks; i++) index.add(i * size, size);
  const decoded: number[] = [];
  const s = new ChunkStore(
    label,
    index,
    perChunk(async (i) => {
      decoded.push(i);
      return Buffer.alloc(size, i);
    }),
  );
  return { s, decoded };
}

afterEach(() => setCacheBudget(64 * 1024 * 1024));

describe('chunk store', () => {
  it('serves reads across chunk edges from the decoded chunks', async () => {
    setCacheBudget(1 << 20);
    const { s } = store(4, 1000);
    expect(s.size).toBe(4000);
    const buf = Buffer.alloc(1500);
    expect(await s.read(buf, 0, 1500, 1750)).toBe(1500);
    expect(buf.subarray(0, 250).every((b) => b === 1)).toBe(true);
    expect(buf.subarray(250, 1250).every((b) => b === 2)).toBe(true);
    expect(buf.subarray(1250).every((b) => b === 3)).toBe(true);
    expect(await s.read(buf, 0, 1500, 3900)).toBe(100); // short at the end
    expect(await s.read(buf, 0, 10, 4000)).toBe(0);
  });

  it('decodes a chunk once while it stays in the cache', async () => {
    setCacheBudget(1 << 20);
    const { s, decoded } = store(4, 1000);
    const buf = Buffer.alloc(10);
    await s.read(buf, 0, 10, 2500);
    await s.read(buf, 0, 10, 2100);
    expect(decoded).toEqual([2]);
  });

  it('every store shares one byte budget, entries costing their real size', async () => {
    const chunk = 64 * 1024;
    // Room for 4 chunks and their Buffers' fixed cost (under 1 KiB each), not for 5.
    const budget = 4 * chunk + 4 * 1024;
    setCacheBudget(budget);
    const a = store(16, chunk, 'a');
    const b = store(16, chunk, 'b');
    const buf = Buffer.alloc(chunk);
    for (let i = 0; i < 16; i++) {
      await a.s.read(buf, 0, 100, i * chunk + 7); // not sequential: no read-ahead
      await b.s.read(buf, 0, 100, i * chunk + 9);
      expect(cacheBytes()).toBeLessThanOrEqual(budget);
    }
    expect(cacheEntries()).toBe(4);
    // Each entry counts its bytes and at least the ~100 bytes a Buffer object alone costs.
    expect(cacheBytes()).toBeGreaterThanOrEqual(4 * (chunk + 100));
    // The most recent chunks of both stores are the ones kept.
    const before = [a.decoded.length, b.decoded.length];
    await a.s.read(buf, 0, 100, 15 * chunk);
    await b.s.read(buf, 0, 100, 15 * chunk);
    expect([a.decoded.length, b.decoded.length]).toEqual(before);
  });

  it('decodes ahead of a sequential reader, within a quarter of the budget', async () => {
    const chunk = 64 * 1024;
    setCacheBudget(16 * chunk + 64 * 1024); // a quarter: 4 chunks with their fixed cost
    const { s, decoded } = store(32, chunk);
    const buf = Buffer.alloc(chunk);
    await s.read(buf, 0, chunk, 0);
    await s.read(buf, 0, chunk, chunk); // sequential: the next chunks are decoded in the background
    await new Promise((r) => setImmediate(r));
    expect(decoded).toEqual([0, 1, 2, 3, 4, 5]); // 16 chunks / 4 = 4 ahead
    await s.read(buf, 0, chunk, 2 * chunk);
    expect(decoded.slice(0, 6)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('with no budget, nothing is kept and every read decodes', async () => {
    setCacheBudget(0);
    const { s, decoded } = store(2, 1000);
    const buf = Buffer.alloc(10);
    await s.read(buf, 0, 10, 0);
    await s.read(buf, 0, 10, 0);
    expect(decoded).toEqual([0, 0]);
    expect(cacheBytes()).toBe(0);
  });

  it('a decoder error fails the read; a wrong decoded length is EIO', async () => {
    setCacheBudget(1 << 20);
    const index = new ChunkIndex();
    index.add(0, 100);
    index.add(100, 100);
    const s = new ChunkStore(
      'bad.img',
      index,
      perChunk(async (i) => {
        if (i === 0) throw new SourceIOError('bad.img: corrupt chunk at file offset 0x40');
        return Buffer.alloc(99);
      }),
    );
    await expect(s.read(Buffer.alloc(10), 0, 10, 0)).rejects.toThrow('bad.img: corrupt chunk at file offset 0x40');
    await expect(s.read(Buffer.alloc(10), 0, 10, 150)).rejects.toThrow(/bad.img: chunk 1 decoded to 99 bytes, the index promised 100/);
  });
});
