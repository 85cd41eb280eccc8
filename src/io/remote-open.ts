import { InputError } from '../errors';
import { readAt } from './byte-source';
import { openHttpSource } from './http-source';
import { RemoteOptions, RemoteSource } from './remote-source';
import { isRemote } from './remote-url';
import { openS3Source } from './s3-source';

/** How the CLI opens remote SOURCE and --map arguments. */
export interface RemoteFlags {
  /** Endpoint of an S3-compatible store for s3:// (else AWS_ENDPOINT_URL(_S3), else AWS). */
  s3Endpoint?: string;
  /** Tuning of the block cache (the bench and tests change these). */
  remote?: Partial<RemoteOptions>;
}

/** Opens an http(s):// or s3:// URL as a pinned, cached ByteSource. */
export function openRemote(url: string, flags: RemoteFlags = {}): Promise<RemoteSource> {
  if (/^s3:\/\//i.test(url)) return openS3Source(url, { endpoint: flags.s3Endpoint }, flags.remote);
  if (/^https?:\/\//i.test(url)) return openHttpSource(url, flags.remote);
  throw new InputError(`${url}: not a remote URL (http://, https:// or s3://)`);
}

/** A map file is text a person saved: more than this is not /proc/iomem or a boot log (the image, given by mistake?). */
const MAX_MAP_BYTES = 256 * 1024 * 1024;

/** The bytes of a remote --map file (iomem text or a boot log), read whole. */
export async function readRemoteFile(url: string, flags: RemoteFlags = {}): Promise<Buffer> {
  if (!isRemote(url)) throw new InputError(`${url}: not a remote URL`);
  const src = await openRemote(url, flags);
  try {
    if (src.size > MAX_MAP_BYTES)
      throw new InputError(`${src.label}: ${src.size} bytes is too large for a memory map (/proc/iomem or a boot log); is this the image?`);
    return await readAt(src, 0, src.size);
  } finally {
    src.close();
  }
}
