import { InputError } from '../errors';
import { ByteSource } from '../io/byte-source';
import { setChunkCacheBudget } from '../io/chunk-store';
import { FileSource } from '../io/file-source';
import { mapForImage } from '../mapfind/map-auto';
import { readMapFile } from '../mapfind/map-file';
import { subtractRanges } from '../maps/ranges';
import { RamRange, segmentRanges, totalLength } from '../types';
import { parseAvml } from './avml';
import { Detection, detectByMagic, detectHeaderless, Format, LIVE_KCORE, SELF_DESCRIBING } from './detect';
import { parseElf } from './elf';
import { openLiveKcore, parseKcore } from './kcore';
import { parseKdump } from './kdump';
import { parseLime } from './lime';
import { parseLimeZlib } from './lime-zlib';
import { parsePadded } from './padded';
import type { MapInput, ParsedImage } from './parsed';
import { parseRaw } from './raw';
import { Source } from './source';

export interface OpenOptions {
  /** A memory map file (/proc/iomem text or a boot log with the e820 map), or `auto` (found in the image). */
  map?: string;
  /** Budget in MiB of the process-wide cache of decoded chunks (AVML); plain image files are read in place. */
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

/** One parser per format. */
const PARSERS: Record<Format, (image: FileSource, map: MapInput | undefined, options: OpenOptions, detection: Detection) => ParsedImage | Promise<ParsedImage>> = {
  raw: (image, map) => parseRaw(image, map),
  padded: (image, map, options) => parsePadded(image, map, { holes: options.holes }),
  lime: (image, _map, options) => parseLime(image, { repairShift: options.repairLimeShift }),
  avml: (image, _map, options) => parseAvml(image, { verify: !!options.verify }),
  elf: (image, _map, _options, detection) => parseElf(image, detection.core),
  kcore: (image, map, _options, detection) => parseKcore(image, map, detection.core),
  kdump: (image) => parseKdump(image),
  'lime-zlib': (image, _map, options) => parseLimeZlib(image, { repairShift: options.repairLimeShift }),
};

/** Reads and parses a map file (/proc/iomem or boot log text); errors name the file. */
export function loadMap(path: string, imageSize?: number): RamRange[] {
  return readMapFile(path, imageSize).ranges;
}

type Parsed = ParsedImage & { format: Format; detectedBy: string; mapChosenAutomatically: boolean };

/** Format detection (once) and dispatch: image bytes + options -> map and segments. */
async function parseImage(image: FileSource, options: OpenOptions): Promise<Parsed> {
  const magic = options.format ? null : await detectByMagic(image);
  const format = options.format ?? magic?.format ?? 'raw';
  // --holes without --map reads a headerless image as padded with no map: nothing to look for.
  const given = options.holes && options.map === undefined ? undefined : await mapForImage(image, options.map, format);
  let map: MapInput | undefined = given && { ranges: given.ranges, origin: given.origin };
  let detection: Detection = options.format
    ? { format: options.format, reason: 'forced by --format' }
    : (magic ?? detectHeaderless(image.size, map?.ranges));
  if (detection.format === 'raw' && !map && options.holes) detection = { format: 'padded', reason: 'no header magic and no map; --holes reads it as padded' };
  if (!map && detection.format === 'kcore' && image.label === LIVE_KCORE) map = { ranges: loadMap(LIVE_IOMEM), origin: LIVE_IOMEM };
  const parsed = await PARSERS[detection.format](image, map, options, detection);
  if (given) parsed.notes.push(...given.notes);
  if (map && SELF_DESCRIBING.includes(detection.format)) {
    const missing = subtractRanges(map.ranges, segmentRanges(parsed.segments));
    parsed.notes.push(
      `RAM ranges from ${map.origin} replace the image's own ${parsed.ranges.length}` +
        (missing.length ? `; ${totalLength(missing)} bytes of them are not in the image and read as zeros` : ''),
    );
    parsed.ranges = map.ranges;
    parsed.mapOrigin = map.origin;
  }
  return { format: detection.format, detectedBy: detection.reason, mapChosenAutomatically: !!given?.foundInImage, ...parsed };
}

/** The image file, read-only; an empty one is an error. */
function openImage(path: string): FileSource {
  const image = path === LIVE_KCORE ? openLiveKcore() : FileSource.open(path);
  if (image.size === 0) {
    image.close();
    throw new InputError(`${path}: file is empty`);
  }
  return image;
}

/**
 * A headerless image, for `memview map`: LiME, AVML and ELF files carry their
 * ranges in their headers, so there is no map to search for in them.
 */
export async function openHeaderless(path: string): Promise<FileSource> {
  const image = openImage(path);
  try {
    const detected = await detectByMagic(image);
    if (detected) {
      throw new InputError(`${path}: a ${detected.format} image (${detected.reason}) carries its own RAM ranges; 'memview info ${path}' lists them (memview map is for headerless raw images)`);
    }
    return image;
  } catch (e) {
    image.close();
    throw e;
  }
}

/** Opens an image read-only, parses it, and returns the source every view is built from. */
export async function openSource(path: string, options: OpenOptions): Promise<Source> {
  setChunkCacheBudget((options.cacheMb ?? 64) * MiB);
  const image = openImage(path);
  try {
    const { bytes, ...parsed } = await parseImage(image, options);
    const served: ByteSource = bytes ?? image;
    return {
      path,
      ...parsed,
      image,
      bytes: served,
      fileSize: image.size,
      mtime: image.mtime,
      close: () => {
        if (served !== image) served.close();
        image.close();
      },
    };
  } catch (e) {
    image.close();
    throw e;
  }
}
