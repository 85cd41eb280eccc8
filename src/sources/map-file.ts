import * as fs from 'node:fs';
import { InputError } from '../errors';
import { candidatesFromText, chooseFromFile } from '../maps/candidates';
import { RamRange } from '../types';
import { describeOpenError } from './image-file';

export interface ChosenMap {
  ranges: RamRange[];
  /** Where the map came from, in words (shown by `info` as the map origin). */
  origin: string;
  notes: string[];
}

/** A map file's text (read-only, latin1: logs may hold any bytes); errors name the file. */
export function readMapText(path: string): string {
  try {
    if (fs.statSync(path).isDirectory()) throw new InputError(`${path}: is a directory, not a map file`);
    return fs.readFileSync(path, 'latin1');
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${path}: ${describeOpenError(e)}`);
  }
}

/**
 * `--map FILE`: /proc/iomem text or a boot log (dmesg, journalctl -k, syslog),
 * told apart by content. A log with several boots gives the boot whose RAM
 * total equals the image size, when there is exactly one.
 */
export function readMapFile(path: string, imageSize?: number): ChosenMap {
  const candidates = candidatesFromText(readMapText(path), path);
  const { map, note } = imageSize === undefined ? { map: candidates[candidates.length - 1], note: undefined } : chooseFromFile(candidates, imageSize, path);
  const how = map.kind === 'iomem' ? map.origin : `${map.origin} (boot log e820 map, ${map.details.filter((d) => d.startsWith('replayed')).length} edits replayed)`;
  return { ranges: map.ranges, origin: how, notes: note ? [note] : [] };
}
