import { hex, InputError } from '../errors';
import { formatRange } from '../maps/ranges';
import { rangeEnd } from '../types';
import { ImageFile } from './image-file';
import type { MapInput, ParsedImage } from './open';

/**
 * A padded image (LiME format=padded, `avml convert --format raw`, a
 * Volatility layerwriter file): file offset = physical address. The map says
 * which addresses are RAM; without one the whole file is one range.
 */
export function parsePadded(image: ImageFile, map: MapInput | undefined): ParsedImage {
  const segments = [{ phys: 0, length: image.size, offset: 0 }];
  if (!map) {
    return {
      ranges: [{ start: 0, length: image.size }],
      segments,
      mapOrigin: 'whole file (no map: every byte counts as RAM)',
      notes: ['no map given: the whole file is served as one RAM range starting at 0'],
    };
  }
  const last = map.ranges[map.ranges.length - 1];
  if (rangeEnd(last) > image.size) {
    throw new InputError(
      `${image.path}: padded image is ${image.size} bytes but the map's RAM range ${formatRange(last)} ends at ${hex(rangeEnd(last))}; ` +
        `wrong map, or a truncated image?`,
    );
  }
  const notes: string[] = [];
  if (image.size > rangeEnd(last)) notes.push(`${image.size - rangeEnd(last)} bytes after the last RAM range are not RAM and are not served`);
  return { ranges: map.ranges, segments, mapOrigin: map.origin, notes };
}
