import * as fs from 'node:fs';
import { hex, InputError } from '../errors';
import { LIME_MAGIC } from '../formats/lime';
import { ByteSource } from '../io/byte-source';
import { ChunkIndex, ChunkStore, perChunk } from '../io/chunk-store';
import { indexZlibStream, inflateHead, inflateSpan, isZlibHeader } from '../io/zlib-index';
import { LimeOptions, parseLime } from './lime';
import type { ParsedImage } from './parsed';

/**
 * LiME compress=1 (LiME 1.9+; formats.md section 6.3): the module deflates its
 * whole output, headers included, into one zlib stream (windowBits 11, first
 * byte 0x38). memview inflates it once at mount time to index it (zlib-index.ts),
 * then reads the LiME records through the inflated stream, served with random
 * access: no `unpigz` copy.
 */

/** Digest algorithms LiME's digest= writes as `<file>.<alg>` (the kernel crypto API names). */
const DIGEST_SIDECARS = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'];

/**
 * A zlib header whose first inflated bytes are a LiME header: true. A zlib
 * stream of something else: an error saying so (LiME's format=raw/padded with
 * compress=1 are not read compressed). Not a zlib stream: false.
 */
export async function isLimeZlib(image: ByteSource, head: Buffer): Promise<boolean> {
  if (!isZlibHeader(head)) return false;
  const first = await inflateHead(image, 4);
  if (first === null || first.length < 4) return false;
  if (first.readUInt32LE(0) === LIME_MAGIC) return true;
  throw new InputError(
    `${image.label}: a zlib stream that does not inflate to a LiME image (LiME format=raw or padded with compress=1?): inflate it first, e.g. pigz -dz < FILE > FILE.raw`,
  );
}

interface Sidecar {
  alg: string;
  path: string;
  expected: string;
}

/** `<path>.<alg>` files next to the image, each holding a hex digest (first word of the file). */
function digestSidecars(path: string): Sidecar[] {
  const found: Sidecar[] = [];
  for (const alg of DIGEST_SIDECARS) {
    const side = `${path}.${alg}`;
    let text: string;
    try {
      text = fs.readFileSync(side, 'latin1');
    } catch {
      continue;
    }
    const word = /^\s*([0-9a-fA-F]+)/.exec(text)?.[1];
    if (!word) throw new InputError(`${side}: not a hex ${alg} digest`);
    found.push({ alg, path: side, expected: word.toLowerCase() });
  }
  return found;
}

export async function parseLimeZlib(image: ByteSource, options: LimeOptions = {}): Promise<ParsedImage> {
  const sidecars = digestSidecars(image.label);
  const index = await indexZlibStream(image, { digests: sidecars.map((s) => s.alg) });
  const chunks = new ChunkIndex();
  index.checkpoints.forEach((cp, i) => chunks.add(cp.out, (index.checkpoints[i + 1]?.out ?? index.size) - cp.out));
  const inflated = new ChunkStore(
    `${image.label} (inflated)`,
    chunks,
    perChunk((i) => inflateSpan(image, index, i)),
  );
  let parsed: ParsedImage;
  try {
    parsed = await parseLime(inflated, options);
  } catch (e) {
    inflated.close();
    throw e;
  }
  const notes = [
    `LiME compress=1: one zlib stream (window ${1 << index.windowBits} bytes) of ${index.streamEnd} bytes inflating to ${index.size}; ` +
      `random access through ${index.checkpoints.length} checkpoint${index.checkpoints.length === 1 ? '' : 's'} built in one inflate pass (${index.indexBytes} bytes, ` +
      `${((100 * index.indexBytes) / Math.max(1, index.size)).toFixed(2)}% of the image)`,
  ];
  if (index.streamEnd < image.size)
    notes.push(`${image.size - index.streamEnd} bytes after the end of the zlib stream (file offset ${hex(index.streamEnd)}) ignored`);
  for (const s of sidecars) {
    const got = index.digests[s.alg];
    notes.push(
      got === s.expected
        ? `digest ${s.alg} of the inflated stream matches ${s.path} (${got})`
        : `digest MISMATCH: ${s.path} says ${s.alg} ${s.expected}, the inflated stream's is ${got}`,
    );
  }
  return { ...parsed, notes: [...notes, ...parsed.notes], bytes: inflated };
}
