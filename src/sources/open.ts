import * as fs from 'node:fs';
import { ByteStore, CachedFileStore } from '../engine/store';
import { InputError } from '../errors';
import { parseIomem } from '../maps/iomem';
import { RamRange, Segment } from '../types';
import { describeOpenError, ImageFile } from './image-file';
import { rawSegments } from './raw';
import { Source } from './source';

export interface OpenOptions {
  /** A memory map file (iomem syntax). */
  map?: string;
  /** Block cache budget in MiB. */
  cacheMb?: number;
}

const MiB = 1024 * 1024;

/** What a format parser returns: the map and where the bytes are. */
export interface Parsed {
  format: string;
  detectedBy: string;
  ranges: RamRange[];
  segments: Segment[];
  mapOrigin: string;
  notes: string[];
  /** A store of its own (decoded formats); default: the image file through the block cache. */
  store?: ByteStore;
}

/** Reads and parses a map file; errors name the file. */
export function loadMap(path: string): RamRange[] {
  let text: string;
  try {
    if (fs.statSync(path).isDirectory()) throw new InputError(`${path}: is a directory, not a map file`);
    text = fs.readFileSync(path, 'latin1');
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${path}: ${describeOpenError(e)}`);
  }
  try {
    return parseIomem(text);
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${path}: ${e.message}`);
    throw e;
  }
}

/** Format detection and dispatch: image bytes + options -> map and segments. */
function parseImage(image: ImageFile, options: OpenOptions): Parsed {
  if (!options.map) throw new InputError(`${image.path}: a raw image needs a memory map: pass --map iomem.txt`);
  const ranges = loadMap(options.map);
  return {
    format: 'raw',
    detectedBy: 'no header magic; bytes placed by the map',
    ranges,
    segments: rawSegments(ranges, image.size, image.path),
    mapOrigin: options.map,
    notes: [],
  };
}

/** Opens an image read-only, parses it, and returns the source every view is built from. */
export function openSource(path: string, options: OpenOptions): Source {
  const image = ImageFile.open(path);
  try {
    if (image.size === 0) throw new InputError(`${path}: file is empty`);
    const parsed = parseImage(image, options);
    const store = parsed.store ?? new CachedFileStore(image.fd, image.size, undefined, (options.cacheMb ?? 64) * MiB);
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
