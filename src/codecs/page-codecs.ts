import * as zlib from 'node:zlib';
import { lzo1xDecompress } from './lzo1x';

/**
 * One compressed block to its bytes, for the codecs kdump-compressed dumps
 * use per page: zlib (node's, the zlib makedumpfile links), lzo (lzo1x.ts),
 * snappy (the native `snappy` package AVML already uses), zstd (fzstd: pure
 * JavaScript, so nothing compiles at install; a page is 4 KiB, where a call
 * into a native library costs about what decoding does). The decoders load on
 * first use: an image that needs none of them never loads them.
 */
export type Codec = 'zlib' | 'lzo' | 'snappy' | 'zstd';

type Snappy = typeof import('snappy');
type Fzstd = typeof import('fzstd');
let snappy: Snappy | undefined;
let fzstd: Fzstd | undefined;

function load<T>(name: string, what: string): T {
  try {
    return require(name) as T;
  } catch (e) {
    throw new Error(`${what} needs the ${name} package, which did not load: ${(e as Error).message.split('\n')[0]}`);
  }
}

/**
 * Decodes `data` into `out` (exactly out.length bytes expected); throws a
 * one-line Error saying what went wrong (the caller adds the file offset).
 */
export function decodeBlock(codec: Codec, data: Uint8Array, out: Buffer): void {
  let n: number;
  try {
    n = decodedLength(codec, data, out);
  } catch (e) {
    throw new Error(`${codec}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (n > out.length) throw new Error(`${codec} data decompresses to more than ${out.length} bytes`);
  if (n !== out.length) throw new Error(`${codec} data decompressed to ${n} bytes, expected ${out.length}`);
}

function decodedLength(codec: Codec, data: Uint8Array, out: Buffer): number {
  switch (codec) {
    case 'zlib':
      return inflateBounded(data, out);
    case 'lzo':
      return lzo1xDecompressChecked(data, out);
    case 'snappy':
      snappy ??= load<Snappy>('snappy', 'snappy-compressed pages');
      return copyExact(snappy.uncompressSync(Buffer.from(data.buffer, data.byteOffset, data.length), { asBuffer: true }) as Buffer, out);
    case 'zstd':
      fzstd ??= load<Fzstd>('fzstd', 'zstd-compressed pages');
      return copyExact(Buffer.from(fzstd.decompress(data)), out);
  }
}

/** Copies what fits; returns the decoded length (a larger one is reported by the caller's size check). */
function copyExact(decoded: Buffer, out: Buffer): number {
  decoded.copy(out, 0, 0, Math.min(decoded.length, out.length));
  return decoded.length;
}

/** zlib (RFC 1950) with the output bounded: a corrupt page cannot inflate to gigabytes. */
function inflateBounded(data: Uint8Array, out: Buffer): number {
  try {
    return copyExact(zlib.inflateSync(data, { maxOutputLength: out.length }), out);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return out.length + 1;
    throw e;
  }
}

/** An output overrun means the block holds more than a page: reported as a longer length. */
function lzo1xDecompressChecked(data: Uint8Array, out: Buffer): number {
  try {
    return lzo1xDecompress(data, out);
  } catch (e) {
    if ((e as Error).message === 'output overrun') return out.length + 1;
    throw e;
  }
}
