import type { S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { InputError } from '../errors';
import { ObjectChangedError, Pin, RangeTransport, RemoteError, RemoteOptions, RemoteSource } from './remote-source';

/**
 * s3://bucket/key through the AWS SDK v3: the SDK's standard credential
 * chain (environment, shared config and credentials files, SSO, web
 * identity, instance and container roles) and region; `--s3-endpoint URL`
 * or AWS_ENDPOINT_URL(_S3) for an S3-compatible store (addressed path-style).
 * HeadObject pins size, ETag and version id; each GetObject asks for that
 * version (VersionId when the bucket has versioning, IfMatch always) and the
 * answer's ETag is checked too. RemoteSource does the retries: the SDK's own
 * are turned off so a failure is tried the same number of times everywhere.
 */

export interface S3Location {
  bucket: string;
  key: string;
}

export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]+)\/(.+)$/i.exec(url);
  if (!m) throw new InputError(`${url}: expected s3://bucket/key`);
  return { bucket: m[1], key: m[2] };
}

type Sdk = typeof import('@aws-sdk/client-s3');

/** The SDK, loaded on first use (local images never pay for it); without its Node-version banner. */
function sdk(): Sdk {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return require('@aws-sdk/client-s3') as Sdk;
}

interface SdkError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** An SDK failure as words: its error name and status, never its message (it may echo request details). */
function describe(e: unknown): { words: string; status?: number; retryable: boolean } {
  const err = e as SdkError;
  const status = err.$metadata?.httpStatusCode;
  const name = err.name ?? 'error';
  const net: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ETIMEDOUT: 'connection timed out',
    EPIPE: 'connection reset',
    ENOTFOUND: 'host not found',
  };
  if (err.code && net[err.code]) return { words: net[err.code], retryable: true };
  if (status === 404 || name === 'NoSuchKey' || name === 'NotFound')
    return { words: `not found (HTTP 404 ${name === 'NotFound' ? 'NoSuchKey' : name})`, status: 404, retryable: false };
  if (name === 'NoSuchBucket') return { words: 'no such bucket (HTTP 404 NoSuchBucket)', status: 404, retryable: false };
  if (status === 401 || status === 403) {
    const why = name === 'Unknown' || name === 'Forbidden' ? 'Forbidden' : name;
    return {
      words: `not authorised (HTTP ${status} ${why}; check the credentials the AWS SDK found: AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws)`,
      status,
      retryable: false,
    };
  }
  if (name === 'CredentialsProviderError')
    return { words: 'no AWS credentials found (environment, ~/.aws/credentials, SSO or instance role)', retryable: false };
  if (status === 412 || name === 'PreconditionFailed') return { words: `HTTP 412 ${name}`, status: 412, retryable: false };
  if (status !== undefined) return { words: `HTTP ${status} ${name}`, status, retryable: status >= 500 || status === 429 };
  return { words: err.code ? `network error (${err.code})` : name, retryable: name !== 'AbortError' };
}

export interface S3Options {
  /** An S3-compatible store's endpoint (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS). */
  endpoint?: string;
}

async function makeClient(options: S3Options): Promise<S3Client> {
  const { S3Client } = sdk();
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  const base = {
    maxAttempts: 1,
    followRegionRedirects: true,
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
  };
  const client = new S3Client(base);
  try {
    await client.config.region();
    return client;
  } catch {
    client.destroy();
    // S3-compatible stores mostly ignore the region, but SigV4 needs one.
    if (endpoint) return new S3Client({ ...base, region: 'us-east-1' });
    throw new InputError('s3://: no AWS region configured: set AWS_REGION (or region in ~/.aws/config)');
  }
}

export class S3Transport implements RangeTransport {
  readonly label: string;

  private constructor(
    private readonly client: S3Client,
    private readonly where: S3Location,
    readonly pin: Pin,
  ) {
    this.label = `s3://${where.bucket}/${where.key}`;
  }

  static async open(url: string, options: S3Options, timeoutMs: number): Promise<S3Transport> {
    const where = parseS3Url(url);
    const label = `s3://${where.bucket}/${where.key}`;
    const client = await makeClient(options);
    try {
      const head = await client.send(new (sdk().HeadObjectCommand)({ Bucket: where.bucket, Key: where.key }), { abortSignal: AbortSignal.timeout(timeoutMs) });
      if (head.ContentLength === undefined) throw new InputError(`${label}: the store did not say the object's size`);
      if (head.ContentLength === 0) throw new InputError(`${label}: the object is empty`);
      const pin: Pin = {
        size: head.ContentLength,
        etag: head.ETag,
        lastModified: head.LastModified?.toUTCString(),
        versionId: head.VersionId && head.VersionId !== 'null' ? head.VersionId : undefined,
      };
      return new S3Transport(client, where, pin);
    } catch (e) {
      client.destroy();
      if (e instanceof InputError) throw e;
      throw new InputError(`${label}: cannot open: ${describe(e).words}`);
    }
  }

  async fetch(target: Buffer, start: number, end: number, signal: AbortSignal, onData: () => void): Promise<void> {
    const { GetObjectCommand } = sdk();
    let body: Readable;
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.where.bucket,
          Key: this.where.key,
          Range: `bytes=${start}-${end - 1}`,
          IfMatch: this.pin.etag,
          VersionId: this.pin.versionId,
        }),
        { abortSignal: signal },
      );
      body = res.Body as Readable;
      if (this.pin.etag && res.ETag && res.ETag !== this.pin.etag) {
        body.destroy();
        throw new ObjectChangedError(`ETag was ${this.pin.etag}, now ${res.ETag}`);
      }
      const total = Number(/\/(\d+)$/.exec(res.ContentRange ?? '')?.[1]);
      if (Number.isSafeInteger(total) && total !== this.pin.size) {
        body.destroy();
        throw new ObjectChangedError(`size was ${this.pin.size} bytes, now ${total}`);
      }
    } catch (e) {
      if (e instanceof RemoteError || signal.aborted) throw e;
      const d = describe(e);
      if (d.status === 412) throw new ObjectChangedError(`${d.words}: it no longer matches ETag ${this.pin.etag}`);
      if (d.status === 404 && this.pin.versionId) throw new ObjectChangedError(`version ${this.pin.versionId} is gone`);
      if (d.status === 404) throw new ObjectChangedError('it was deleted');
      throw new RemoteError(d.words, d.retryable);
    }
    let at = 0;
    try {
      for await (const chunk of body) {
        const b = chunk as Buffer;
        if (at + b.length > target.length) throw new RemoteError(`the store sent more than the ${target.length} bytes asked for`, false);
        b.copy(target, at);
        at += b.length;
        onData();
      }
    } catch (e) {
      body.destroy();
      if (e instanceof RemoteError) throw e;
      throw new RemoteError(`${describe(e).words} after ${at} of ${target.length} bytes`, true);
    }
    if (at !== target.length) throw new RemoteError(`the response ended after ${at} of ${target.length} bytes`, true);
  }

  close(): void {
    this.client.destroy();
  }
}

/** Opens s3://bucket/key as a pinned, cached ByteSource. */
export async function openS3Source(url: string, s3: S3Options = {}, options: Partial<RemoteOptions> = {}): Promise<RemoteSource> {
  const transport = await S3Transport.open(url, s3, Math.max(10_000, options.stallMs ?? 30_000));
  return new RemoteSource(transport, options);
}
