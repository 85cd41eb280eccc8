import * as fs from 'node:fs';
import { CachedFileStore } from '../engine/store';
import { InputError } from '../errors';
import { parseIomem } from '../maps/iomem';
import { RamRange } from '../types';
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

/** Opens an image read-only, places its bytes with the map, and returns the parsed source. */
export function openSource(path: string, options: OpenOptions): Source {
  const image = ImageFile.open(path);
  try {
    if (image.size === 0) throw new InputError(`${path}: file is empty`);
    if (!options.map) throw new InputError(`${path}: a raw image needs a memory map: pass --map iomem.txt`);
    const ranges = loadMap(options.map);
    const segments = rawSegments(ranges, image.size, path);
    const store = new CachedFileStore(image.fd, image.size, undefined, (options.cacheMb ?? 64) * MiB);
    return {
      path,
      format: 'raw',
      detectedBy: 'no header magic; bytes placed by the map',
      ranges,
      segments,
      store,
      mapOrigin: options.map,
      notes: [],
      fileSize: image.size,
      mtime: image.mtime,
      close: () => image.close(),
    };
  } catch (e) {
    image.close();
    throw e;
  }
}
