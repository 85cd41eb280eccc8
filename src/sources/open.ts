import { ByteStore, FileStore } from '../engine/store';
import { InputError } from '../errors';
import { subtractRanges } from '../maps/ranges';
import { RamRange, Segment, totalLength } from '../types';
import { parseAvml } from './avml';
import { detectFormat, Format, LIVE_KCORE } from './detect';
import { parseElf } from './elf';
import { ImageFile } from './image-file';
import { openLiveKcore, parseKcore } from './kcore';
import { parseLime } from './lime';
import { mapForImage } from './map-auto';
import { readMapFile } from './map-file';
import { parsePadded } from './padded';
import { parseRaw } from './raw';
import { Source } from './source';

export interface OpenOptions {
  /** A memory map file (/proc/iomem text or a boot log with the e820 map), or `auto` (found in the image). */
  map?: string;
  /** Cache budget in MiB for stores that decode (AVML); plain image files are read in place. */
  cacheMb?: number;
  /** Skip detection: read the image as this format. */
  format?: Format;
  /** LiME: serve ranges that start mid-page un-shifted. */
  repairLimeShift?: boolean;
  /** Check stored checksums while reading (AVML chunk CRCs); a mismatch fails the read. */
  verify?: boolean;
  /** Padded without a map: serve sparse holes and long all-zero page runs as holes. */
  holes?: boolean;
}

const MiB = 1024 * 1024;
const LIVE_IOMEM = '/proc/iomem';

/** What a format parser returns: the map and where the bytes are. */
export interface Parsed {
  format: string;
  detectedBy: string;
  ranges: RamRange[];
  segments: Segment[];
  mapOrigin: string;
  notes: string[];
  /** A store of its own (decoded formats); default: the image file read in place (FileStore). */
  store?: ByteStore;
}

/** What a format parser returns (open.ts adds the format and why it was chosen). */
export type ParsedImage = Omit<Parsed, 'format' | 'detectedBy'>;

/** A map given by the user, parsed. */
export interface MapInput {
  ranges: RamRange[];
  origin: string;
}

/** One parser per format. */
const PARSERS: Record<Format, (image: ImageFile, map: MapInput | undefined, options: OpenOptions) => ParsedImage> = {
  raw: (image, map) => parseRaw(image, map),
  padded: (image, map, options) => parsePadded(image, map, { holes: options.holes }),
  lime: (image, _map, options) => parseLime(image, { repairShift: options.repairLimeShift }),
  avml: (image, _map, options) => parseAvml(image, { cacheBytes: (options.cacheMb ?? 64) * MiB, verify: !!options.verify }),
  elf: (image) => parseElf(image),
  kcore: (image, map) => parseKcore(image, map),
};

/** Formats that carry their own map: a --map given with them replaces it. */
const SELF_DESCRIBING: readonly Format[] = ['lime', 'avml', 'elf'];

/** Reads and parses a map file (/proc/iomem or boot log text); errors name the file. */
export function loadMap(path: string, imageSize?: number): RamRange[] {
  return readMapFile(path, imageSize).ranges;
}

/** Format detection and dispatch: image bytes + options -> map and segments. */
function parseImage(image: ImageFile, options: OpenOptions): Parsed {
  // --holes without --map reads a headerless image as padded with no map: nothing to look for.
  const given = options.holes && options.map === undefined ? undefined : mapForImage(image, options.map, options.format);
  let map: MapInput | undefined = given && { ranges: given.ranges, origin: given.origin };
  let detection = options.format
    ? { format: options.format, reason: 'forced by --format' }
    : detectFormat(image, map?.ranges);
  if (detection.format === 'raw' && !map && options.holes) detection = { format: 'padded', reason: 'no header magic and no map; --holes reads it as padded' };
  if (!map && detection.format === 'kcore' && image.path === LIVE_KCORE) map = { ranges: loadMap(LIVE_IOMEM), origin: LIVE_IOMEM };
  const parsed = PARSERS[detection.format](image, map, options);
  if (given) parsed.notes.push(...given.notes);
  if (map && SELF_DESCRIBING.includes(detection.format)) {
    const missing = subtractRanges(map.ranges, parsed.segments.map((s) => ({ start: s.phys, length: s.length })));
    parsed.notes.push(
      `RAM ranges from ${map.origin} replace the image's own ${parsed.ranges.length}` +
        (missing.length ? `; ${totalLength(missing)} bytes of them are not in the image and read as zeros` : ''),
    );
    parsed.ranges = map.ranges;
    parsed.mapOrigin = map.origin;
  }
  return { format: detection.format, detectedBy: detection.reason, ...parsed };
}

/** Opens an image read-only, parses it, and returns the source every view is built from. */
export function openSource(path: string, options: OpenOptions): Source {
  const image = path === LIVE_KCORE ? openLiveKcore() : ImageFile.open(path);
  try {
    if (image.size === 0) throw new InputError(`${path}: file is empty`);
    const parsed = parseImage(image, options);
    const store = parsed.store ?? new FileStore(image.fd);
    return {
      path,
      ...parsed,
      store,
      fileSize: image.size,
      mtime: image.mtime,
      close: () => image.close(),
    };
  } catch (e) {
    image.close();
    throw e;
  }
}
