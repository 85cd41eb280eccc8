import * as fs from 'node:fs';
import { InputError } from '../errors';
import { candidatesFromText, chooseFromFile } from '../maps/candidates';
import { RamRange } from '../types';
import { describeOpenError } from '../io/file-source';

export interface ChosenMap {
  ranges: RamRange[];
  /** Where the map came from, in words (shown by `info` as the map origin). */
  origin: string;
  notes: string[];
}

/** Node's longest string: a map file beyond it cannot be text a person saved (the image, given by mistake?). */
const MAX_TEXT = 0x1fffffe8;

/**
 * A map file's text (read-only, latin1: logs may hold any bytes); errors name
 * the file. Maps saved on Windows are accepted: a UTF-8 byte-order mark is
 * dropped, UTF-16 (PowerShell's `>`) is decoded.
 */
export function readMapText(path: string): string {
  let bytes: Buffer;
  try {
    const stat = fs.statSync(path);
    if (stat.isDirectory()) throw new InputError(`${path}: is a directory, not a map file`);
    if (stat.size > MAX_TEXT) throw new InputError(`${path}: ${stat.size} bytes is too large for a memory map (/proc/iomem or a boot log); is this the image?`);
    bytes = fs.readFileSync(path);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${path}: ${describeOpenError(e)}`);
  }
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString('utf16le');
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return Buffer.from(bytes.subarray(2)).swap16().toString('utf16le');
  const utf8Bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  return bytes.toString('latin1', utf8Bom ? 3 : 0);
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
