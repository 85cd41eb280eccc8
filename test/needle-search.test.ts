import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BufferSource } from '../src/io/byte-source';
import { searchSource } from '../src/search/needle-search';

/** Every offset of `needle` in `buf`, by brute force (the reference). */
function naive(buf: Buffer, needle: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + needle.length <= buf.length; i++) if (buf.subarray(i, i + needle.length).equals(needle)) out.push(i);
  return out;
}

describe('streaming needle search', () => {
  const a = Buffer.from('BIOS-provided physical RAM map:');
  const b = Buffer.from('VMCOREINFO\0\0OSRELEASE=');
  const data = randomBytes(3 * 1024 * 1024 + 123);
  // Needles at chunk boundaries of the sizes below, at both ends, and overlapping each other's spots.
  const spots = [0, 4096 - 5, 8192 - 30, 65539 - 1, 65539 * 2 - 15, 1_000_000, 1_000_001, 2 * 1024 * 1024, data.length - a.length];
  spots.forEach((at, i) => (i % 2 ? b : a).copy(data, at));
  const expected = [naive(data, a), naive(data, b)];

  for (const simd of [false, true]) {
    for (const chunkSize of [4096, 65539, 4 * 1024 * 1024]) {
      it(`finds each hit exactly once (${simd ? 'SIMD' : 'Buffer.indexOf'}, ${chunkSize}-byte chunks)`, async () => {
        const r = await searchSource(new BufferSource(data), [a, b], { chunkSize, maxHits: 100, simd });
        expect(r.hits).toEqual(expected);
        expect(r.capped).toBe(false);
      });
    }
  }

  it('data where every other byte is a candidate (first and compared byte match) still finds the real hits', async () => {
    // 'B' at even offsets, 'l' at odd ones: every even offset matches the log needle's 'B' and its 'l' 21 bytes on.
    const busy = Buffer.alloc(1024 * 1024 + 64, 'Bl');
    a.copy(busy, 700_001);
    b.copy(busy, busy.length - b.length);
    for (const simd of [false, true]) {
      const r = await searchSource(new BufferSource(busy), [a, b], { chunkSize: busy.length, maxHits: 100, simd });
      expect(r.hits).toEqual([[700_001], [busy.length - b.length]]);
    }
  });

  it('stops collecting at maxHits and says so', async () => {
    const many = Buffer.alloc(200_000, 'x');
    for (let i = 0; i < 50; i++) a.copy(many, i * 4000);
    for (const simd of [false, true]) {
      const r = await searchSource(new BufferSource(many), [a, b], { chunkSize: 10_000, maxHits: 20, simd });
      expect(r.hits[0]).toEqual(Array.from({ length: 20 }, (_, i) => i * 4000));
      expect(r.capped).toBe(true);
    }
  });
});
