/**
 * HttpSource against a real nginx on 127.0.0.1: bytes equal the file, the
 * server's access log counts what each read cost, and faults (server down,
 * 503s, stalls, slow responses, the object replaced, 404/401/403) end as
 * one-line errors that never carry the URL's query string.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheBudget, cacheBytes, cacheEntries, setCacheBudget } from '../src/io/byte-cache';
import { SourceIOError } from '../src/io/byte-source';
import { ChunkIndex, ChunkStore, perChunk } from '../src/io/chunk-store';
import { openHttpSource } from '../src/io/http-source';
import { FETCH_PAGE, RemoteSource } from '../src/io/remote-source';
import { InputError } from '../src/errors';
import { isRemote, redactUrl } from '../src/io/remote-url';
import { tempDir } from './helpers/cli';
import { failure, imageBytes } from './helpers/remote-bytes';
import { bodyBytes, freePort, Nginx, settled, startNginx } from './helpers/nginx';

const MiB = 1024 * 1024;
const BLOCK = 8 * MiB;
const SIZE = 5 * BLOCK + 12345; // not a whole number of blocks or pages
const SECRET = 'X-Amz-Signature=6b1f0c0ffeeSECRET&sv=2024&sig=SAS%2Btoken';
const FAST_FAIL = { tries: 3, backoffMs: 20, stallMs: 5000 };

async function readAll(src: RemoteSource, chunk = 128 * 1024): Promise<Buffer> {
  const out = Buffer.alloc(src.size);
  for (let pos = 0; pos < src.size; pos += chunk) await src.read(out, pos, Math.min(chunk, src.size - pos), pos);
  return out;
}

describe('HttpSource over nginx', () => {
  const tmp = tempDir('memview-http-');
  const root = path.join(tmp, 'www');
  let nginx: Nginx;
  let bytes: Buffer;
  const opened: RemoteSource[] = [];
  const open = async (name: string, options = {}) => {
    const logged = nginx.log().length;
    const s = await openHttpSource(`${nginx.base}/${name}?${SECRET}`, options);
    opened.push(s);
    // nginx logs a request after answering it: wait for the line, so later counts start after it.
    for (let i = 0; i < 200 && nginx.log().length === logged; i++) await new Promise((r) => setTimeout(r, 10));
    return s;
  };
  /** Requests logged since `mark` (a log length taken earlier), once the log has settled (nginx logs after answering). */
  const since = (mark: number) => settled(() => nginx.log()).then((l) => l.slice(mark));

  beforeAll(async () => {
    fs.mkdirSync(root, { recursive: true });
    bytes = imageBytes(SIZE, 1);
    fs.writeFileSync(path.join(root, 'host.raw'), bytes);
    nginx = await startNginx(path.join(tmp, 'nginx'), root, { tls: true });
  });
  afterAll(async () => {
    for (const s of opened) s.close();
    await nginx?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('pins size and ETag at open with a 1-byte request; the label has no query string', async () => {
    const mark = nginx.log().length;
    const src = await open('host.raw');
    const st = fs.statSync(path.join(root, 'host.raw'));
    expect(src.size).toBe(SIZE);
    // nginx's ETag is "<mtime hex>-<size hex>".
    expect(src.pin.etag).toBe(`"${Math.floor(st.mtimeMs / 1000).toString(16)}-${SIZE.toString(16)}"`);
    expect(new Date(src.pin.lastModified!).getTime()).toBe(Math.floor(st.mtimeMs / 1000) * 1000);
    expect(src.label).toBe(`${nginx.base}/host.raw`);
    const reqs = await since(mark);
    expect(reqs).toHaveLength(1);
    expect(reqs[0]).toMatchObject({ status: 206, body: 1, range: 'bytes=0-0' });
  });

  it('a version id header (Azure x-ms-version-id) is pinned too', async () => {
    const src = await open('versioned/host.raw');
    expect(src.pin.versionId).toBe('2026-12-01T10:00:00.1234567Z');
    expect(src.pin.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
  });

  it('one 4 KiB read of a fresh source costs one block, sent with If-Match', async () => {
    const src = await open('host.raw');
    const mark = nginx.log().length;
    const at = 2 * BLOCK + 5 * 4096 + 17;
    const buf = Buffer.alloc(4096);
    expect(await src.read(buf, 0, 4096, at)).toBe(4096);
    expect(buf.equals(bytes.subarray(at, at + 4096))).toBe(true);
    const reqs = await since(mark);
    expect(reqs).toHaveLength(1);
    expect(reqs[0]).toMatchObject({ status: 206, body: BLOCK, range: `bytes=${2 * BLOCK}-${3 * BLOCK - 1}`, ifMatch: src.pin.etag });
    // Again, and its neighbour in the same block: from the cache.
    await src.read(buf, 0, 4096, at);
    await src.read(buf, 0, 4096, at + 4096);
    await new Promise((r) => setTimeout(r, 200)); // a read-ahead would have been logged by now
    expect(await since(mark)).toHaveLength(1);
  });

  it('a header probe costs one 64 KiB page, and a later block read fetches only the rest', async () => {
    const src = await open('host.raw');
    const mark = nginx.log().length;
    const buf = Buffer.alloc(32);
    await src.probing().read(buf, 0, 32, BLOCK - 8);
    expect(buf.equals(bytes.subarray(BLOCK - 8, BLOCK + 24))).toBe(true);
    expect(bodyBytes(await since(mark))).toBe(2 * FETCH_PAGE); // it straddles a page boundary
    const mark2 = nginx.log().length;
    await src.read(buf, 0, 32, 16);
    expect(bodyBytes(await since(mark2))).toBe(BLOCK - FETCH_PAGE);
  });

  it('fetched pages count in the one process-wide budget, beside decoded chunks, and leave it on close', async () => {
    setCacheBudget(MiB);
    try {
      // Decoded chunks of a store in the same process, 4 MiB of them.
      const index = new ChunkIndex();
      for (let i = 0; i < 64; i++) index.add(i * 65536, 65536);
      const store = new ChunkStore(
        'decoded',
        index,
        perChunk(async (i) => Buffer.alloc(65536, i)),
      );
      const src = await open('host.raw');
      expect(cacheBudget()).toBe(6 * BLOCK); // raised to what a block and its read-ahead (4 blocks) need, from 1 MiB
      const chunk = Buffer.alloc(65536);
      for (let i = 0; i < 64; i++) await store.read(chunk, 0, 65536, i * 65536);
      const chunkBytes = cacheBytes();
      expect(chunkBytes).toBeGreaterThanOrEqual(64 * 65536);
      expect((await readAll(src)).equals(bytes)).toBe(true);
      // The object's 40 MiB of pages are kept in the same budget as the chunks, and both stay within it.
      expect(cacheBytes()).toBeGreaterThanOrEqual(chunkBytes + SIZE);
      expect(cacheBytes()).toBeLessThanOrEqual(cacheBudget());
      src.close();
      expect(cacheBytes()).toBe(chunkBytes);
      store.close();
      expect(cacheEntries()).toBe(0);
    } finally {
      setCacheBudget(64 * MiB);
    }
  });

  it('a full sequential read returns the file and costs at most 1.1x its size', async () => {
    const src = await open('host.raw');
    const mark = nginx.log().length;
    const all = await readAll(src);
    expect(all.equals(bytes)).toBe(true);
    const reqs = await since(mark);
    expect(bodyBytes(reqs)).toBeLessThanOrEqual(1.1 * SIZE);
    expect(bodyBytes(reqs)).toBeGreaterThanOrEqual(SIZE - 1); // the first byte may be cached from open
    expect(reqs.every((r) => r.status === 206 && r.ifMatch === src.pin.etag)).toBe(true);
    expect(src.stats.bytesFetched).toBe(bodyBytes(reqs));
  });

  it('slow responses (nginx limit_rate 4 MiB/s) still read correctly', async () => {
    const src = await open('slow/host.raw', { stallMs: 5000 });
    const buf = Buffer.alloc(100);
    await src.read(buf, 0, 100, SIZE - 100); // the last, short block
    expect(buf.equals(bytes.subarray(SIZE - 100))).toBe(true);
  });

  it('503s from a throttling server are retried with backoff until the reads succeed', async () => {
    const src = await open('busy/host.raw', { tries: 8, backoffMs: 100 });
    const mark = nginx.log().length;
    const parts = [0, 1, 2, 3].map(async (i) => {
      const buf = Buffer.alloc(4096);
      await src.read(buf, 0, 4096, i * BLOCK);
      return buf.equals(bytes.subarray(i * BLOCK, i * BLOCK + 4096));
    });
    expect(await Promise.all(parts)).toEqual([true, true, true, true]);
    expect((await since(mark)).some((r) => r.status === 503)).toBe(true);
    expect(src.stats.retries).toBeGreaterThan(0);
  });

  it('a server answering 503: EIO after the last try, one line without the query; works again when the server recovers', async () => {
    const src = await open('host.raw', FAST_FAIL);
    await nginx.setDown(true);
    try {
      const err = await failure(src.read(Buffer.alloc(10), 0, 10, BLOCK));
      expect(err).toBeInstanceOf(SourceIOError);
      expect((err as SourceIOError).code).toBe('EIO');
      expect(err.message).toBe(`${nginx.base}/host.raw: HTTP 503 Service Temporarily Unavailable (bytes ${BLOCK}-${2 * BLOCK - 1}, gave up after 3 tries)`);
    } finally {
      await nginx.setDown(false);
    }
    const buf = Buffer.alloc(10);
    await src.read(buf, 0, 10, BLOCK);
    expect(buf.equals(bytes.subarray(BLOCK, BLOCK + 10))).toBe(true);
  });

  it('the server stopped: connection refused after the last try; reads resume when it is back', async () => {
    const src = await open('host.raw', FAST_FAIL);
    await nginx.stop();
    try {
      const err = await failure(src.read(Buffer.alloc(10), 0, 10, 3 * BLOCK));
      expect(err.message).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/host\.raw: connection refused \(bytes \d+-\d+, gave up after 3 tries\)$/);
    } finally {
      await nginx.start();
    }
    const buf = Buffer.alloc(10);
    await src.read(buf, 0, 10, 3 * BLOCK);
    expect(buf.equals(bytes.subarray(3 * BLOCK, 3 * BLOCK + 10))).toBe(true);
  });

  it('the server stopped in the middle of a response: the read is retried', async () => {
    const src = await open('slow/host.raw', { ...FAST_FAIL, tries: 10, backoffMs: 200 });
    const buf = Buffer.alloc(BLOCK);
    const before = src.stats.requests;
    const reading = src.read(buf, 0, BLOCK, 0); // 2 s at 4 MiB/s
    // Stop the server once the request is under way (a fixed wait alone raced the request on a loaded machine).
    while (src.stats.requests === before) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 700));
    await nginx.stop();
    await nginx.start();
    expect(await reading).toBe(BLOCK);
    expect(buf.equals(bytes.subarray(0, BLOCK))).toBe(true);
    expect(src.stats.retries).toBeGreaterThan(0);
  });

  it('a stalled server (no byte for stallMs): the request is aborted and retried, then the read fails', async () => {
    const src = await open('host.raw', { tries: 2, backoffMs: 20, stallMs: 400 });
    nginx.freeze(true);
    try {
      const err = await failure(src.read(Buffer.alloc(10), 0, 10, 4 * BLOCK));
      expect(err.message).toMatch(/: no data for 0\.4 s \(bytes \d+-\d+, gave up after 2 tries\)$/);
    } finally {
      nginx.freeze(false);
    }
  });

  it('the object replaced while open: EIO saying it changed, for every read after', async () => {
    const file = path.join(root, 'replaced.raw');
    fs.writeFileSync(file, bytes);
    fs.utimesSync(file, new Date(1_700_000_000_000), new Date(1_700_000_000_000));
    const src = await open('replaced.raw', FAST_FAIL);
    const buf = Buffer.alloc(10);
    await src.read(buf, 0, 10, 0); // block 0 cached
    const next = path.join(root, 'replaced.raw.new');
    fs.writeFileSync(next, imageBytes(SIZE, 2));
    fs.renameSync(next, file);
    const mark = nginx.log().length;
    const err = await failure(src.read(buf, 0, 10, BLOCK));
    expect(err).toBeInstanceOf(SourceIOError);
    expect(err.message).toBe(
      `${nginx.base}/replaced.raw: the object changed since it was opened (HTTP 412: it no longer matches ETag ${src.pin.etag}); reads fail so that no byte of another version is served`,
    );
    expect((await since(mark)).map((r) => r.status)).toEqual([412]); // not retried
    expect((await failure(src.read(buf, 0, 10, 0))).message).toMatch(/changed since it was opened/);
  });

  it('not found, not authorised: one line at open, without the query string', async () => {
    const cases: [string, RegExp][] = [
      ['missing.raw', /^http:\/\/127\.0\.0\.1:\d+\/missing\.raw: cannot open: not found \(HTTP 404 Not Found\)$/],
      [
        'private/host.raw',
        /\/private\/host\.raw: cannot open: not authorised \(HTTP 403 Forbidden; an expired or wrong signature, SAS token or credentials\?\)$/,
      ],
      ['login/host.raw', /\/login\/host\.raw: cannot open: not authorised \(HTTP 401 Unauthorized;/],
      ['down/host.raw', /\/down\/host\.raw: cannot open: HTTP 503 /],
    ];
    for (const [name, expected] of cases) {
      const err = await failure(open(name));
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toMatch(expected);
    }
    const port = await freePort(); // nothing listens there
    const refused = await failure(openHttpSource(`http://127.0.0.1:${port}/x.raw?${SECRET}`));
    expect(refused.message).toBe(`http://127.0.0.1:${port}/x.raw: cannot open: connection refused`);
  });

  it('https with a certificate nobody trusts: one line saying how to trust a private CA', async () => {
    const err = await failure(openHttpSource(`${nginx.httpsBase}/host.raw?${SECRET}`));
    expect(err.message).toBe(
      `${nginx.httpsBase}/host.raw: cannot open: TLS certificate not accepted (DEPTH_ZERO_SELF_SIGNED_CERT; a private CA: NODE_EXTRA_CA_CERTS=ca.pem)`,
    );
  });

  it('no message above, nor the source label, carries the signature', async () => {
    const src = await open('host.raw');
    expect(JSON.stringify({ label: src.label, pin: src.pin })).not.toMatch(/SECRET|sig=|X-Amz/);
    // user:password in the URL is dropped from the label too.
    const withUser = await openHttpSource(`http://user:pa55word@127.0.0.1:${nginx.port}/host.raw?${SECRET}`);
    opened.push(withUser);
    expect(withUser.label).toBe(`${nginx.base}/host.raw`);
  });
});

describe('redactUrl', () => {
  it('drops user info, query string and fragment, keeps scheme, host, port and path', () => {
    expect(redactUrl('https://acct.blob.core.windows.net/dumps/host.raw?sv=2024-01-01&sig=abc%2B')).toBe('https://acct.blob.core.windows.net/dumps/host.raw');
    expect(redactUrl('https://u:p@bucket.s3.amazonaws.com:8443/case42/host.avml?X-Amz-Signature=ff#x')).toBe(
      'https://bucket.s3.amazonaws.com:8443/case42/host.avml',
    );
    expect(redactUrl('s3://case42/host.lime')).toBe('s3://case42/host.lime');
    expect(redactUrl('http://h/p@q/x?y=@z')).toBe('http://h/p@q/x');
  });
  it('tells URLs from paths', () => {
    expect(['https://h/x', 'HTTP://h/x', 's3://b/k'].every(isRemote)).toBe(true);
    expect(['/tmp/x', './https:/x', 'file:///x', 'host.raw'].some(isRemote)).toBe(false);
  });
});
