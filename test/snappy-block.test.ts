/**
 * codecs/snappy-block: raw Snappy blocks decoded in place, checked against the
 * native snappy package's own encoder (an independent implementation) on data
 * of every kind, and corrupt blocks refused without reading or writing
 * outside the buffers.
 */
import { compressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import { SnappyError, snappyDecompressInto } from '../src/codecs/snappy-block';

/** Deterministic data of one kind: random, a short pattern repeated, runs of one byte, text with repeats. */
function sample(kind: number, n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed * 2654435761 + 1;
  const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (let i = 0; i < n; i++) {
    if (kind === 0) b[i] = rnd();
    else if (kind === 1) b[i] = i % 7;
    else if (kind === 2) b[i] = Math.floor(i / 300) & 0xff;
    else b[i] = rnd() < 40 ? rnd() : 'memory forensics '.charCodeAt(i % 17);
  }
  return b;
}

describe('raw Snappy block decoding into a buffer', () => {
  it('gives back what the snappy package compressed, at an offset, for sizes from 0 to past 64 KiB', () => {
    const sizes = [0, 1, 2, 3, 4, 59, 60, 61, 255, 256, 4095, 4096, 65535, 65536, 70000, 1 << 20];
    for (const n of sizes) {
      for (let kind = 0; kind < 4; kind++) {
        const data = sample(kind, n, n + kind);
        const block = compressSync(data);
        const out = Buffer.alloc(n + 20, 0xee);
        snappyDecompressInto(block, out, 10, n);
        expect(out.subarray(10, 10 + n).equals(data), `size ${n} kind ${kind}`).toBe(true);
        expect(out.subarray(0, 10).every((v) => v === 0xee)).toBe(true);
        expect(out.subarray(10 + n).every((v) => v === 0xee)).toBe(true);
      }
    }
  });

  it('the blocks exercised hold literals and all three copy forms', () => {
    const tags = new Set<number>();
    const block = compressSync(sample(3, 1 << 20, 5));
    // Walk the elements (a reference walk of the format, not the decoder's).
    let ip = 0;
    while (block[ip++] & 0x80);
    while (ip < block.length) {
      const tag = block[ip++];
      const kind = tag & 3;
      tags.add(kind);
      if (kind === 0) {
        let n = tag >>> 2;
        if (n >= 60) {
          const k = n - 59;
          n = block.readUIntLE(ip, k);
          ip += k;
        }
        ip += n + 1;
      } else ip += kind === 1 ? 1 : kind === 2 ? 2 : 4;
    }
    expect(tags.has(0) && tags.has(1) && tags.has(2)).toBe(true);
    // 4-byte-offset copies need an input over 64 KiB with a far repeat; build one by hand: literal "abcd", copy 4 bytes from 4 back.
    const hand = Buffer.from([8, 0x0c, 0x61, 0x62, 0x63, 0x64, 0x0f, 4, 0, 0, 0]);
    const out = Buffer.alloc(8);
    snappyDecompressInto(hand, out, 0, 8);
    expect(out.toString('latin1')).toBe('abcdabcd');
  });

  it('refuses corrupt blocks', () => {
    const good = compressSync(sample(1, 1000, 1));
    const out = Buffer.alloc(2000);
    const bad =
      (block: Buffer, length = 1000) =>
      () =>
        snappyDecompressInto(block, out, 0, length);
    expect(bad(good, 999)).toThrow(SnappyError); // length not the one declared
    expect(bad(good.subarray(0, good.length - 1))).toThrow(SnappyError); // truncated
    expect(bad(Buffer.from([4, 0x0d, 1, 0]), 4)).toThrow(/copy offset before the start/); // copy before any output
    expect(bad(Buffer.from([4, 0x00, 0x41, 0x0d, 0]), 4)).toThrow(/copy offset before the start/); // offset 0
    expect(bad(Buffer.from([2, 0x08, 1, 2, 3]), 2)).toThrow(/output overrun/); // a literal longer than declared
    expect(bad(Buffer.from([3, 0x00, 0x41, 0x0d, 1]), 3)).toThrow(/output overrun/); // a copy past the end
    expect(bad(Buffer.from([8, 0x04, 0x41]), 8)).toThrow(/input overrun/); // literal past the input
    expect(bad(Buffer.from([5, 0x00, 0x41]), 5)).toThrow(/ends after 1 of 5 bytes/);
    expect(() => snappyDecompressInto(good, Buffer.alloc(999), 0, 1000)).toThrow(/output overrun/);
    expect(bad(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toThrow(SnappyError); // varint too long
  });
});
