/**
 * s3://bucket/key through the AWS SDK against a real S3-compatible server on
 * 127.0.0.1 that verifies SigV4 signatures (test/helpers/s3-server.ts):
 * credentials and endpoint from the environment as a user would set them,
 * pinning, block reads counted in the server's log, and the faults.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors';
import { SourceIOError } from '../src/io/byte-source';
import { RemoteSource } from '../src/io/remote-source';
import { openS3Source, parseS3Url } from '../src/io/s3-source';
import { tempDir } from './helpers/cli';
import { failure, imageBytes } from './helpers/remote-bytes';
import { bodyBytes, settled } from './helpers/nginx';
import { S3_ACCESS_KEY, S3_SECRET, S3Server, startS3Server } from './helpers/s3-server';

const MiB = 1024 * 1024;
const BLOCK = 8 * MiB;
const SIZE = 3 * BLOCK + 777;
const FAST_FAIL = { tries: 3, backoffMs: 20, stallMs: 5000 };

describe('s3:// over an S3-compatible server (SigV4 checked)', () => {
  const tmp = tempDir('memview-s3-');
  let server: S3Server;
  let bytes: Buffer;
  const opened: RemoteSource[] = [];
  const saved = { ...process.env };
  const put = async (key: string, body: Buffer) => {
    const c = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET },
    });
    await c.send(new PutObjectCommand({ Bucket: server.bucket, Key: key, Body: body }));
    c.destroy();
  };
  const open = async (key: string, options = {}) => {
    const s = await openS3Source(`s3://${server.bucket}/${key}`, {}, options);
    opened.push(s);
    return s;
  };

  beforeAll(async () => {
    server = await startS3Server(path.join(tmp, 's3'), 'case42');
    // What an investigator sets: the SDK's standard variables, no region (an S3-compatible store).
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: S3_ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: S3_SECRET,
      AWS_ENDPOINT_URL: server.endpoint,
      AWS_CONFIG_FILE: path.join(tmp, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(tmp, 'no-credentials'),
    });
    bytes = imageBytes(SIZE, 3);
    await put('dir/host.raw', bytes);
  });
  afterAll(async () => {
    for (const s of opened) s.close();
    await server?.stop();
    process.env = saved;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('parses s3://bucket/key (keys may hold slashes)', () => {
    expect(parseS3Url('s3://case42/a/b/host.lime')).toEqual({ bucket: 'case42', key: 'a/b/host.lime' });
    expect(() => parseS3Url('s3://case42')).toThrow(/expected s3:\/\/bucket\/key/);
  });

  it('pins size and ETag (the MD5 of a single-part upload); a 4 KiB read costs one block', async () => {
    const src = await open('dir/host.raw');
    expect(src.size).toBe(SIZE);
    expect(src.pin.etag).toBe(`"${crypto.createHash('md5').update(bytes).digest('hex')}"`);
    expect(src.label).toBe('s3://case42/dir/host.raw');
    const mark = server.log().length;
    const at = BLOCK + 4096 * 3;
    const buf = Buffer.alloc(4096);
    await src.read(buf, 0, 4096, at);
    expect(buf.equals(bytes.subarray(at, at + 4096))).toBe(true);
    const reqs = (await settled(() => server.log())).slice(mark);
    expect(reqs).toHaveLength(1);
    expect(reqs[0]).toMatchObject({ method: 'GET', status: 206, body: BLOCK, range: `bytes=${BLOCK}-${2 * BLOCK - 1}`, ifMatch: src.pin.etag });
  });

  it('a full sequential read returns the object and costs at most 1.1x its size', async () => {
    const src = await open('dir/host.raw');
    const mark = server.log().length;
    const out = Buffer.alloc(SIZE);
    for (let pos = 0; pos < SIZE; pos += 128 * 1024) await src.read(out, pos, Math.min(128 * 1024, SIZE - pos), pos);
    expect(out.equals(bytes)).toBe(true);
    expect(bodyBytes((await settled(() => server.log())).slice(mark))).toBeLessThanOrEqual(1.1 * SIZE);
  });

  it('a wrong secret is refused by the server (SigV4 checked): not authorised, one line', async () => {
    process.env.AWS_SECRET_ACCESS_KEY = 'not-the-secret';
    try {
      const err = await failure(open('dir/host.raw'));
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toMatch(/^s3:\/\/case42\/dir\/host\.raw: cannot open: not authorised \(HTTP 403 /);
      expect(err.message).not.toContain('not-the-secret');
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = S3_SECRET;
    }
  });

  it('a missing key: not found', async () => {
    const err = await failure(open('dir/nothing.raw'));
    expect(err.message).toBe('s3://case42/dir/nothing.raw: cannot open: not found (HTTP 404 NoSuchKey)');
  });

  it('--s3-endpoint (the option) wins over AWS_ENDPOINT_URL', async () => {
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:9/';
    try {
      const s = await openS3Source('s3://case42/dir/host.raw', { endpoint: server.endpoint });
      opened.push(s);
      expect(s.size).toBe(SIZE);
    } finally {
      process.env.AWS_ENDPOINT_URL = server.endpoint;
    }
  });

  it("the object replaced while open: EIO saying it changed (the answer's ETag is checked)", async () => {
    await put('dir/replaced.raw', bytes);
    const src = await open('dir/replaced.raw', FAST_FAIL);
    const buf = Buffer.alloc(16);
    await src.read(buf, 0, 16, 0);
    await put('dir/replaced.raw', imageBytes(SIZE, 4));
    const err = await failure(src.read(buf, 0, 16, 2 * BLOCK));
    expect(err).toBeInstanceOf(SourceIOError);
    expect(err.message).toMatch(/^s3:\/\/case42\/dir\/replaced\.raw: the object changed since it was opened \(ETag was "[0-9a-f]{32}", now "[0-9a-f]{32}"\)/);
  });

  it('the server stopped: connection refused after the last try; back again, reads work', async () => {
    const src = await open('dir/host.raw', FAST_FAIL);
    await server.stop();
    try {
      const err = await failure(src.read(Buffer.alloc(8), 0, 8, 2 * BLOCK));
      expect(err.message).toMatch(/^s3:\/\/case42\/dir\/host\.raw: connection refused \(bytes \d+-\d+, gave up after 3 tries\)$/);
    } finally {
      await server.start();
    }
    const buf = Buffer.alloc(8);
    await src.read(buf, 0, 8, 2 * BLOCK);
    expect(buf.equals(bytes.subarray(2 * BLOCK, 2 * BLOCK + 8))).toBe(true);
  });
});
