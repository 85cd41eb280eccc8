import * as fs from 'node:fs';
import { preadFully } from '../io/pread';
import { human, InputError } from '../errors';
import { describeOpenError, openRegularInput } from '../io/open-input';
import { candidatesFromText, chooseFromFile } from '../maps/candidates';
import { RamRange } from '../types';

export interface ChosenMap {
  ranges: RamRange[];
  /** Where the map came from, in words (shown by `info` as the map origin). */
  origin: string;
  notes: string[];
  /** Chosen from the image's own content (`--map auto`, or no map for a raw image), not read from a file. */
  foundInImage?: boolean;
}

/**
 * The largest map or boot log read: a real /proc/iomem is a few KiB, a kernel
 * log a few MiB, a whole syslog tens of MiB. A bigger file is the image given
 * by mistake, or something that never ends (/dev/zero).
 */
export const MAX_MAP_BYTES = 256 * 1024 * 1024;

/**
 * A map file's text (read-only, latin1: logs may hold any bytes); errors name
 * the file. Maps saved on Windows are accepted: a UTF-8 byte-order mark is
 * dropped, UTF-16 (PowerShell's `>`) is decoded.
 */
export function readMapText(path: string): string {
  return decodeMapText(readMapBytes(path));
}

/** A map file's bytes as text: UTF-16 (with its byte-order mark) decoded, a UTF-8 BOM dropped, else latin1. */
export function decodeMapText(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString('utf16le');
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return Buffer.from(bytes.subarray(2)).swap16().toString('utf16le');
  const utf8Bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  return bytes.toString('latin1', utf8Bom ? 3 : 0);
}

/** A map file's bytes: a regular file (not a FIFO or device that could block or never end), at most MAX_MAP_BYTES. */
function readMapBytes(path: string): Buffer {
  const { fd, stat } = openRegularInput(path, 'a map file', 'save the map to a regular file first (e.g. cat /proc/iomem > iomem.txt)');
  try {
    const tooBig = (size: string) =>
      new InputError(
        `${path}: ${size} bytes is too large for a memory map (/proc/iomem or a boot log, at most ${human(MAX_MAP_BYTES)} read); is this the image? (for a long syslog, give only the boot's lines)`,
      );
    if (stat.size > MAX_MAP_BYTES) throw tooBig(String(stat.size));
    // Read to the end, not to st_size: /proc/iomem reports size 0.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.max(64 * 1024, Math.min(stat.size - total + 1, MAX_MAP_BYTES + 1 - total)));
      const n = preadFully(fd, buf, 0, buf.length, total);
      total += n;
      if (total > MAX_MAP_BYTES) throw tooBig(`more than ${MAX_MAP_BYTES}`);
      chunks.push(buf.subarray(0, n));
      if (n < buf.length) return Buffer.concat(chunks, total);
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${path}: ${describeOpenError(e, 'a map file')}`);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * `--map FILE`: /proc/iomem text or a boot log (dmesg, journalctl -k, syslog),
 * told apart by content. A log with several boots gives the boot whose RAM
 * total equals the image size, when there is exactly one.
 */
export function readMapFile(path: string, imageSize?: number): ChosenMap {
  return mapFromText(readMapText(path), path, imageSize);
}

/** The map in a map file's text (read locally or fetched); `name` names it in messages and the origin. */
export function mapFromText(text: string, name: string, imageSize?: number): ChosenMap {
  const candidates = candidatesFromText(text, name);
  const { map, note } = imageSize === undefined ? { map: candidates[candidates.length - 1], note: undefined } : chooseFromFile(candidates, imageSize, name);
  const how =
    map.kind === 'iomem' ? map.origin : `${map.origin} (boot log e820 map, ${map.details.filter((d) => d.startsWith('replayed')).length} edits replayed)`;
  return { ranges: map.ranges, origin: how, notes: note ? [note] : [] };
}
