import { InputError } from '../errors';
import { RamRange, Segment, totalLength } from '../types';
import { ByteSource } from '../io/byte-source';
import type { MapInput, ParsedImage } from './parsed';

/** A raw image needs a map: nothing in its bytes says where they go. */
export function parseRaw(image: ByteSource, map: MapInput | undefined): ParsedImage {
  if (!map) {
    throw new InputError(
      `${image.label}: a raw image needs a memory map: pass --map iomem.txt (no LiME, AVML or ELF header found; for a padded image pass --format padded)`,
    );
  }
  return { ranges: map.ranges, segments: rawSegments(map.ranges, image.size, image.label), mapOrigin: map.origin, notes: [] };
}

/**
 * A raw image (LiME format=raw): the RAM ranges of the map, concatenated in
 * ascending order, nothing else. The map is the only way to place the bytes,
 * so the file size must equal the map's RAM total exactly.
 */
export function rawSegments(ranges: readonly RamRange[], fileSize: number, path: string): Segment[] {
  const expected = totalLength(ranges);
  if (fileSize !== expected) {
    throw new InputError(
      `${path}: raw image is ${fileSize} bytes but the map's System RAM totals ${expected} bytes ` +
        `(difference ${fileSize - expected}); wrong map for this image?`,
    );
  }
  const segments: Segment[] = [];
  let offset = 0;
  for (const r of ranges) {
    segments.push({ phys: r.start, length: r.length, offset });
    offset += r.length;
  }
  return segments;
}
