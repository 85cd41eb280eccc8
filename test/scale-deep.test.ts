/**
 * Range counts far past the call-stack limit (issue 11, case 8): views built
 * over 150,000 segments in one RAM range and 150,000 RAM ranges give the
 * right layout without "Maximum call stack size exceeded" (spreading a large
 * array into push() or Math.max() overflowed at about 100,000). The timing
 * targets for 1,000,000 ranges belong to the bench, not here.
 */
import { describe, expect, it } from 'vitest';
import { elfCoreTable, physicalElfLoads, physicalLoads, prstatusNote } from '../src/views/elf';
import { paddedTable, rawTable } from '../src/views/ram-pieces';
import { limeTable } from '../src/views/lime';
import { appendAll } from '../src/types';

const N = 150_000;

describe(`${N} segments or ranges: no stack overflow, right sizes`, () => {
  // Every other 4 KiB page of [0, 2N pages) is in the source: N segments inside one RAM range.
  const segments = Array.from({ length: N }, (_, i) => ({ phys: i * 0x2000, length: 0x1000, offset: i * 0x1000 }));
  const oneRange = [{ start: 0, length: N * 0x2000 }];
  // N RAM ranges, the same pages.
  const manyRanges = segments.map((s) => ({ start: s.phys, length: s.length }));

  it('appendAll takes more items than a call has arguments', () => {
    const into = [1];
    appendAll(into, new Array(1_000_000).fill(2));
    expect(into.length).toBe(1_000_001);
  });

  it('padded, raw and LiME tables of one range holding N segments', () => {
    const padded = paddedTable(segments, oneRange);
    expect(padded.kinds.length).toBe(2 * N); // source, zero gap, source, ...
    expect(padded.size).toBe(N * 0x2000);
    expect(rawTable(segments, oneRange).size).toBe(N * 0x2000);
    expect(limeTable(segments, oneRange).size).toBe(32 + N * 0x2000);
  });

  it('N RAM ranges: padded, raw, LiME and memory.elf', () => {
    expect(paddedTable(segments, manyRanges).size).toBe((N - 1) * 0x2000 + 0x1000);
    const raw = rawTable(segments, manyRanges);
    expect(raw.size).toBe(N * 0x1000);
    expect(raw.kinds.length).toBe(1); // the source offsets continue each other: one row
    const lime = limeTable(segments, manyRanges);
    expect(lime.size).toBe(N * (32 + 0x1000));
    expect(lime.bytes.length).toBe(N * 32); // every header in the one buffer
    const elf = elfCoreTable(prstatusNote(), physicalElfLoads(segments, physicalLoads(manyRanges).loads));
    // 145 program headers at most (PT_NOTE + 144 loads): the ranges are joined across all but the
    // 143 gaps between loads. Headers + note (64 + 145 * 56 + 356 bytes) take the first 3 pages.
    expect(elf.size).toBe(3 * 0x1000 + (N - 1) * 0x2000 + 0x1000 - 143 * 0x1000);
  });
});
