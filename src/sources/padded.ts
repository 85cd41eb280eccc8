import { hex, InputError } from '../errors';
import { formatRange } from '../maps/ranges';
import { rangeEnd, totalLength } from '../types';
import { MIN_HOLE, scanHoles } from './holes';
import { ByteSource } from '../io/byte-source';
import type { MapInput, ParsedImage } from './parsed';

/**
 * A padded image (LiME format=padded, `avml convert --format raw`, a
 * Volatility layerwriter file): file offset = physical address. The map says
 * which addresses are RAM; without one the whole file is one range, or with
 * --holes the file minus its sparse holes and long all-zero page runs.
 */
export async function parsePadded(image: ByteSource, map: MapInput | undefined, options: { holes?: boolean } = {}): Promise<ParsedImage> {
  const segments = [{ phys: 0, length: image.size, offset: 0 }];
  if (!map && options.holes) {
    const scan = await scanHoles(image);
    if (scan.data.length === 0) throw new InputError(`${image.label}: --holes: every page of the image is zero or a hole; nothing to serve`);
    const holeBytes = image.size - totalLength(scan.data);
    return {
      ranges: scan.data,
      segments,
      mapOrigin: `--holes: data pages of the image (zero runs of ${MIN_HOLE / 2 ** 20} MiB or more are holes)`,
      notes: [
        `--holes: ${scan.data.length} data ranges; ${holeBytes} bytes served as holes ` +
          `(${scan.sparseBytes} bytes in sparse-file holes not read, ${scan.zeroBytes} bytes read as all-zero pages)`,
      ],
    };
  }
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
      `${image.label}: padded image is ${image.size} bytes but the map's RAM range ${formatRange(last)} ends at ${hex(rangeEnd(last))}; ` +
        `wrong map, or a truncated image?`,
    );
  }
  const notes: string[] = [];
  if (image.size > rangeEnd(last)) notes.push(`${image.size - rangeEnd(last)} bytes after the last RAM range are not RAM and are not served`);
  return { ranges: map.ranges, segments, mapOrigin: map.origin, notes };
}
