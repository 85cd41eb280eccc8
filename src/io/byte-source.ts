/**
 * Random-access bytes: the one interface under every parser, scanner and the
 * read path. A local file today, a Buffer in unit tests, a decoded stream
 * (chunk store) or a remote object (HTTP range reads) behind the same calls.
 */
export interface ByteSource {
  /** Bytes in the source. */
  readonly size: number;
  /** How messages name it: the path, or a URL without its query string (never a secret). */
  readonly label: string;
  /**
   * Copies up to `length` bytes at `position` into `target[targetOffset..]`;
   * resolves with the count, which is short only at the end of the source.
   */
  read(target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number>;
  /** A local file's descriptor, for a reader that can pread it itself (the native read path). */
  readonly fd?: number;
  /**
   * Concurrent preads of `fd` can mix their bytes: the kernel's /proc/kcore
   * copies each page through one bounce buffer per open file. The native read
   * path then reads through read(), one call at a time.
   */
  readonly oneReadAtATime?: boolean;
  close(): void;
}

/** Raised when a source no longer holds bytes it promised (truncated while mounted, a remote object replaced). */
export class SourceIOError extends Error {
  readonly code = 'EIO';
}

/** Up to `length` bytes at `position` (fewer at the end). */
export async function readAt(source: ByteSource, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(Math.max(0, Math.min(length, source.size - position)));
  const n = buf.length === 0 ? 0 : await source.read(buf, 0, buf.length, position);
  return n === buf.length ? buf : buf.subarray(0, n);
}

/** Exactly `length` bytes at `position` into `target`, or a SourceIOError naming the source and the offset. */
export async function readExactly(source: ByteSource, target: Uint8Array, targetOffset: number, length: number, position: number): Promise<void> {
  const n = await source.read(target, targetOffset, length, position);
  if (n < length) throw new SourceIOError(`${source.label}: short read at source offset 0x${(position + n).toString(16)}`);
}

/** Bytes held in memory: unit tests read parsers through this, no file needed. */
export class BufferSource implements ByteSource {
  readonly size: number;

  constructor(
    private readonly bytes: Uint8Array,
    readonly label = 'buffer',
  ) {
    this.size = bytes.length;
  }

  read(target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number> {
    const n = Math.max(0, Math.min(length, this.size - position));
    target.set(this.bytes.subarray(position, position + n), targetOffset);
    return Promise.resolve(n);
  }

  close(): void {}
}
