import { hex } from '../errors';
import { AVML_BLOCK_SIZE } from '../formats/avml';

/**
 * AVML's block rules, shared by its two containers (AVML v2 and the LiME v1
 * files AVML writes): how its blocks join back into RAM ranges.
 */

/** A block of physical memory that a record header names, with or without data. */
export interface Block {
  start: number;
  length: number;
}

/**
 * The RAM ranges behind AVML's blocks. AVML cuts each iomem range into 16 MiB
 * blocks from its start and leaves out all-zero blocks, so a full 16 MiB block
 * followed, a whole number of blocks later, by another block is one range with
 * zero blocks left out: merge them (the hole is served as zeros). Orphan
 * headers (0.17.0) name left-out blocks exactly, so they join ranges too.
 * AVML also uses the inclusive iomem end as exclusive, dropping each range's
 * last byte; a range that ends one byte short of a 1 KiB boundary is given
 * that byte back (as a zero) so the views show the iomem range.
 */
export function avmlRanges(blocks: readonly Block[]): { ranges: Block[]; zeroBlocks: number; extended: number } {
  const sorted = [...blocks].sort((a, b) => a.start - b.start);
  const ranges: Block[] = [];
  let zeroBlocks = 0;
  let last: Block | undefined;
  for (const b of sorted) {
    const range = ranges[ranges.length - 1];
    const gap = last ? b.start - (last.start + last.length) : -1;
    if (range && last && gap >= 0 && (gap === 0 || (last.length === AVML_BLOCK_SIZE && gap % AVML_BLOCK_SIZE === 0))) {
      zeroBlocks += gap / AVML_BLOCK_SIZE;
      range.length = b.start + b.length - range.start;
    } else {
      ranges.push({ start: b.start, length: b.length });
    }
    last = b;
  }
  let extended = 0;
  for (const r of ranges) {
    if ((r.start + r.length + 1) % 0x400 === 0) {
      r.length += 1;
      extended++;
    }
  }
  return { ranges, zeroBlocks, extended };
}

/** What `avmlRanges` did and the orphan headers seen, as notes for `memview info` (AVML v1 and v2 alike). */
export function avmlRangeNotes(blocks: number, rebuilt: ReturnType<typeof avmlRanges>, orphans: readonly { fileOffset: number }[]): string[] {
  const notes = [`${blocks} AVML blocks (<= 16 MiB each) merged into ${rebuilt.ranges.length} RAM ranges`];
  if (rebuilt.zeroBlocks > 0) notes.push(`${rebuilt.zeroBlocks} all-zero 16 MiB blocks inside RAM ranges were left out by AVML; served as zeros`);
  if (orphans.length > 0) {
    notes.push(`AVML 0.17.0 orphan headers (all-zero blocks, no payload): ${orphans.length}, at file offsets ${offsets(orphans)}; served as zeros`);
  } else {
    notes.push('all-zero blocks at the edge of a range look like non-RAM in an AVML file; pass --map iomem.txt for the exact ranges');
  }
  if (rebuilt.extended > 0) {
    notes.push(
      `AVML drops the last byte of each iomem range (inclusive end used as exclusive): ${rebuilt.extended} ranges extended by that byte, served as zero`,
    );
  }
  return notes;
}

const LISTED = 4;

function offsets(list: readonly { fileOffset: number }[]): string {
  const shown = list
    .slice(0, LISTED)
    .map((o) => hex(o.fileOffset))
    .join(', ');
  return list.length > LISTED ? `${shown}, ...` : shown;
}
