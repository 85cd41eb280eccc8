import { human, InputError } from '../errors';
import { ByteSource } from '../io/byte-source';
import { setCacheBudget } from '../io/byte-cache';
import { FileSource } from '../io/file-source';
import { openRemote, readRemoteFile, RemoteFlags } from '../io/remote-open';
import { RemoteSource } from '../io/remote-source';
import { isRemote, redactUrl } from '../io/remote-url';
import { AUTO_MAP, mapForImage } from '../mapfind/map-auto';
import { decodeMapText, mapFromText, readMapFile } from '../mapfind/map-file';
import { subtractRanges } from '../maps/ranges';
import { RamRange, segmentRuns, totalLength } from '../types';
import { parseAvml } from './avml';
import { parseAvmlRemote } from './avml-remote';
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
import { openSplit, parseSplitList, SplitPart } from './split';

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
  /** http(s):// and s3:// sources and maps: endpoint and cache tuning. */
  remote?: RemoteFlags;
  /** Byte budget of each whole-image scan of a remote source (map search, VMCOREINFO search). */
  remoteScanBytes?: number;
  /** Lines for the user while opening (what a remote scan will cost). */
  notify?: (line: string) => void;
  /** Called once a remote source is open, before it is parsed (the CLI's progress line). */
  onRemoteOpen?: (remote: RemoteSource) => void;
}

/** Default byte budget of a scan of a remote source (README "Remote sources"). */
export const REMOTE_SCAN_MB = 512;

const MiB = 1024 * 1024;
const LIVE_IOMEM = '/proc/iomem';

/** One parser per format. */
const PARSERS: Record<
  Format,
  (image: ByteSource, map: MapInput | undefined, options: OpenOptions, detection: Detection) => ParsedImage | Promise<ParsedImage>
> = {
  raw: (image, map) => parseRaw(image, map),
  padded: (image, map, options) => parsePadded(image, map, { holes: options.holes }),
  lime: (image, _map, options) => parseLime(image, { repairShift: options.repairLimeShift }),
  avml: (image, _map, options) => parseAvml(image, { verify: !!options.verify }),
  elf: (image, _map, _options, detection) => parseElf(image, detection.core),
  kcore: (image, map, _options, detection) => parseKcore(image, map, detection.core),
  kdump: (image) => parseKdump(image),
  'lime-zlib': (image, _map, options) => parseLimeZlib(image, { repairShift: options.repairLimeShift }),
  ramdump: () => {
    throw new InputError('--format ramdump: give the source as FILE@ADDR[,FILE@ADDR...] (a split RAM dump)');
  },
};

/** Reads and parses a map file (/proc/iomem or boot log text); errors name the file. */
export function loadMap(path: string, imageSize?: number): RamRange[] {
  return readMapFile(path, imageSize).ranges;
}

/**
 * The map (--map FILE or URL, or found in the image). Over a remote source a
 * headerless image is searched only with --map auto, within the scan budget,
 * and the user is told the cost first: the search reads the image itself.
 */
async function chooseMap(image: ByteSource, options: OpenOptions, format: string, remote?: RemoteSource) {
  const { map } = options;
  if (map && isRemote(map)) return mapFromText(decodeMapText(await readRemoteFile(map, options.remote)), redactUrl(map), image.size);
  if (!remote || (map && map !== AUTO_MAP) || (format !== 'raw' && !(format === 'padded' && map === AUTO_MAP))) return mapForImage(image, map, format);
  const budget = options.remoteScanBytes ?? REMOTE_SCAN_MB * MiB;
  const cost = `${human(Math.min(budget, image.size))} of its ${human(image.size)} (--remote-scan-mb ${Math.round(budget / MiB)})`;
  if (map !== AUTO_MAP) {
    throw new InputError(
      `${image.label}: a raw image needs a memory map: pass --map with the machine's /proc/iomem or boot log (a file or a URL); ` +
        `--map auto searches the image for its boot log, reading up to ${cost}`,
    );
  }
  options.notify?.(`--map auto: searching ${image.label} for its boot log, reading up to ${cost}`);
  remote.startBudget(Number.MAX_SAFE_INTEGER, 'map search');
  try {
    return await mapForImage(image, map, format, budget);
  } finally {
    remote.scans.push({ what: 'map search (--map auto)', budget, fetched: remote.endBudget() });
  }
}

type Parsed = ParsedImage & { format: Format; detectedBy: string; mapChosenAutomatically: boolean };

/** Format detection (once) and dispatch: image bytes + options -> map and segments. */
async function parseImage(image: ByteSource, options: OpenOptions, remote?: RemoteSource): Promise<Parsed> {
  const magic = options.format ? null : await detectByMagic(image);
  const format = options.format ?? magic?.format ?? 'raw';
  // --holes without --map reads a headerless image as padded with no map: nothing to look for.
  const given = options.holes && options.map === undefined ? undefined : await chooseMap(image, options, format, remote);
  let map: MapInput | undefined = given && { ranges: given.ranges, origin: given.origin };
  let detection: Detection = options.format ? { format: options.format, reason: 'forced by --format' } : (magic ?? detectHeaderless(image.size, map?.ranges));
  if (detection.format === 'raw' && !map && options.holes) detection = { format: 'padded', reason: 'no header magic and no map; --holes reads it as padded' };
  if (!map && detection.format === 'kcore' && image.label === LIVE_KCORE) map = { ranges: loadMap(LIVE_IOMEM), origin: LIVE_IOMEM };
  const parsed =
    remote && detection.format === 'avml'
      ? await parseAvmlRemote(image, remote, { verify: !!options.verify })
      : await PARSERS[detection.format](image, map, options, detection);
  if (given) parsed.notes.push(...given.notes);
  if (map && SELF_DESCRIBING.includes(detection.format)) replaceRanges(parsed, map);
  return { format: detection.format, detectedBy: detection.reason, mapChosenAutomatically: !!given?.foundInImage, ...parsed };
}

/** A map given with a source that carries its own ranges replaces them; bytes it names that the image lacks read as zeros. */
function replaceRanges(parsed: ParsedImage, map: MapInput): void {
  const missing = subtractRanges(map.ranges, segmentRuns(parsed.segments));
  parsed.notes.push(
    `RAM ranges from ${map.origin} replace the image's own ${parsed.ranges.length}` +
      (missing.length ? `; ${totalLength(missing)} bytes of them are not in the image and read as zeros` : ''),
  );
  parsed.ranges = map.ranges;
  parsed.mapOrigin = map.origin;
}

/** A split RAM dump (FILE@ADDR list): the files at their addresses; --map replaces their ranges. */
function openSplitSource(spec: string, parts: SplitPart[], options: OpenOptions): Source {
  const split = openSplit(parts);
  try {
    const parsed: ParsedImage = { ranges: split.ranges, segments: split.segments, mapOrigin: 'the FILE@ADDR list', notes: split.notes };
    if (options.map && options.map !== AUTO_MAP) replaceRanges(parsed, { ranges: loadMap(options.map), origin: options.map });
    return {
      path: spec,
      format: 'ramdump',
      detectedBy: 'a FILE@ADDR list (split RAM dump, as crash takes it)',
      mapChosenAutomatically: false,
      ...parsed,
      image: split.image,
      bytes: split.image,
      files: split.files,
      fileSize: split.image.size,
      mtime: split.mtime,
      close: () => split.image.close(),
    };
  } catch (e) {
    split.image.close();
    throw e;
  }
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
      throw new InputError(
        `${path}: a ${detected.format} image (${detected.reason}) carries its own RAM ranges; 'memview info ${path}' lists them (memview map is for headerless raw images)`,
      );
    }
    return image;
  } catch (e) {
    image.close();
    throw e;
  }
}

/** Opens an image read-only, parses it, and returns the source every view is built from. */
export async function openSource(path: string, options: OpenOptions): Promise<Source> {
  setCacheBudget((options.cacheMb ?? 64) * MiB);
  if (isRemote(path)) return openRemoteSource(path, options);
  const split = parseSplitList(path);
  if (split) return openSplitSource(path, split, options);
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

/**
 * An http(s):// or s3:// object: parsers read its headers through the probe
 * view (small fetches), the bytes are served through whole-block fetches.
 * Its path is the URL without the query string: nothing downstream holds a secret.
 */
async function openRemoteSource(url: string, options: OpenOptions): Promise<Source> {
  if (options.holes) throw new InputError(`${redactUrl(url)}: --holes reads every page of the image; it is not offered for a remote source`);
  const remote = await openRemote(url, options.remote);
  options.onRemoteOpen?.(remote);
  try {
    const { bytes, ...parsed } = await parseImage(remote.probing(), options, remote);
    const served: ByteSource = bytes ?? remote;
    return {
      path: remote.label,
      ...parsed,
      image: remote,
      bytes: served,
      remote,
      fileSize: remote.size,
      mtime: remote.pin.lastModified ? new Date(remote.pin.lastModified) : new Date(0),
      close: () => {
        if (served !== remote) served.close();
        remote.close();
      },
    };
  } catch (e) {
    remote.close();
    throw e;
  }
}
