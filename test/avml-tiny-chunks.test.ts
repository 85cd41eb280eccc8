/**
 * AVML streams of tiny Snappy chunks (the framing format allows one-byte
 * chunks): issue 11 case 9. Every byte served must equal the independent
 * reference, the index must not grow a row per chunk, and the one cache
 * budget must count what each entry really costs (a Buffer holding one
 * byte costs some 450), so a million tiny chunks cannot hold 900 MB under
 * `--cache-mb 64`. Accounting, not RSS: RSS targets belong to `npm run bench`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cacheBytes, cacheEntries, setCacheBudget } from '../src/io/byte-cache';
import { ChunkIndex, ChunkStore, perChunk } from '../src/io/chunk-store';
import { FileSource } from '../src/io/file-source';
import { parseAvml, readAvmlIndex } from '../src/sources/avml';
import { writeAvml, WrittenAvml } from './helpers/avml-writer';
import { memview as memviewCli, run, RunningMount, startMount, tempDir } from './helpers/cli';
import { ramBytes, Range } from './helpers/machine';

const SALT = 0x7e1;
/** Two ranges (two records); AVML reads each up to its inclusive end used as exclusive. Ends chosen off 1 KiB boundaries (no byte given back). */
const IOMEM: Range[] = [
  { start: 0x1000, end: 0x1000 + 150_000 },
  { start: 0x100000, end: 0x100000 + 60_000 },
];
const memory = (start: number, length: number) => ramBytes(start, length, SALT);
/** padded.raw as it must be: zeros, then each range's bytes (its last iomem byte dropped, as AVML does). */
function reference(): Buffer {
  const last = IOMEM[IOMEM.length - 1];
  const out = Buffer.alloc(last.end);
  for (const r of IOMEM) memory(r.start, r.end - r.start).copy(out, r.start);
  return out;
}

const tmp = tempDir('memview-avml-tiny-');
const mounts: RunningMount[] = [];
const memview = (...args: string[]) => memviewCli(...args, '--vmcoreinfo', 'off');
const h = (n: number) => `0x${n.toString(16)}`;
let expected: Buffer;
/** One-byte chunks: half compressed, half not, padding and repeated stream identifiers between them. */
const tiny = path.join(tmp, 'tiny.avml');
let tinyWritten: WrittenAvml;
/** 1000-byte chunks: spans of several chunks that pass SMALL_SPAN mid-chunk. */
const small = path.join(tmp, 'small.avml');

beforeAll(async () => {
  expected = reference();
  fs.writeFileSync(path.join(tmp, 'ref.padded'), expected);
  tinyWritten = await writeAvml(tiny, IOMEM, memory, { chunkBytes: 1, compressAlways: true, uncompressedEvery: 2, skippableEvery: 13, streamIdEvery: 17 });
  await writeAvml(small, IOMEM, memory, { chunkBytes: 1000, compressAlways: true, uncompressedEvery: 3 });
}, 120_000);

afterEach(() => setCacheBudget(64 * 1024 * 1024));

afterAll(async () => {
  for (const m of mounts) await m.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('AVML with tiny Snappy chunks', () => {
  it('the writer produced one-byte chunks of both types', () => {
    expect(tinyWritten.chunks.length).toBe(210_000);
    expect(new Set(tinyWritten.chunks.map((c) => c.length))).toEqual(new Set([1]));
    expect(new Set(tinyWritten.chunks.map((c) => c.type))).toEqual(new Set([0, 1]));
  });

  it('the index holds a row per ~4 KiB of data, not per chunk, and counts every chunk', async () => {
    const image = FileSource.open(tiny);
    try {
      const index = await readAvmlIndex(image);
      expect(index.chunks.dataChunks).toBe(210_000);
      const bytes = IOMEM.reduce((n, r) => n + r.end - r.start, 0);
      expect(index.chunks.count).toBeLessThanOrEqual(Math.ceil(bytes / 4096) + IOMEM.length);
    } finally {
      image.close();
    }
  });

  for (const [name, file] of [
    ['one-byte', tiny],
    ['1000-byte', small],
  ]) {
    it(`${name} chunks: export of padded.raw equals the reference`, async () => {
      const out = path.join(tmp, `${name}.padded`);
      const r = await memview('export', file, '--view', 'padded', '-o', out, '--cache-mb', '1');
      expect(r.stderr).toBe('');
      expect(fs.readFileSync(out).equals(expected)).toBe(true);
    });
  }

  it('mounted under --cache-mb 1: padded.raw read through FUSE equals the reference', async () => {
    const m = await startMount(tiny, path.join(tmp, 'mnt'), ['--cache-mb', '1', '--vmcoreinfo', 'off']);
    mounts.push(m);
    const r = await run('cmp', [path.join(m.dir, 'padded.raw'), path.join(tmp, 'ref.padded')]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('the cache stays within its budget counting each entry at its real cost, and serves the right bytes', async () => {
    const budget = 64 * 1024;
    setCacheBudget(budget);
    const image = FileSource.open(tiny);
    try {
      const bytes = (await parseAvml(image, { verify: true })).bytes!;
      const buf = Buffer.alloc(8192);
      let x = 12345;
      for (let k = 0; k < 400; k++) {
        // Sequential runs and random jumps, some across the record gap's edges.
        x = (x * 1103515245 + 12345) >>> 0;
        const r = IOMEM[x % 2];
        const len = 1 + (x % 8192);
        const pos = k % 4 === 0 ? r.start : r.start + ((x >>> 8) % Math.max(1, r.end - r.start - len));
        const n = Math.min(len, r.end - pos);
        expect(await bytes.read(buf, 0, n, pos)).toBe(n);
        expect(buf.subarray(0, n).equals(expected.subarray(pos, pos + n))).toBe(true);
        expect(cacheBytes()).toBeLessThanOrEqual(budget);
        // Every entry counted at no less than its bytes plus the ~100 bytes a Buffer object alone costs.
        expect(cacheBytes()).toBeGreaterThanOrEqual(cacheEntries() * 100);
      }
      expect(cacheEntries()).toBeGreaterThan(0);
      bytes.close();
    } finally {
      image.close();
    }
  });

  it('a chunk store of one-byte chunks holds no more entries than their real cost allows', async () => {
    const budget = 1024 * 1024;
    setCacheBudget(budget);
    const index = new ChunkIndex();
    const n = 100_000;
    for (let i = 0; i < n; i++) index.add(i, 1);
    const s = new ChunkStore(
      'tiny',
      index,
      // Each chunk in a memory block of its own, exactly one byte long (as a decoder that copies out of its read buffer makes it).
      perChunk(async (i) => {
        const b = Buffer.allocUnsafeSlow(1);
        b[0] = i & 0xff;
        return b;
      }),
    );
    const buf = Buffer.alloc(4096);
    for (let pos = 0; pos < n; pos += 4096) {
      const got = await s.read(buf, 0, 4096, pos);
      for (let k = 0; k < got; k++) expect(buf[k]).toBe((pos + k) & 0xff);
    }
    await new Promise((r) => setImmediate(r));
    expect(cacheBytes()).toBeLessThanOrEqual(budget);
    // 100,000 one-byte Buffers really cost ~45 MB: at ~100 bytes or more each, 1 MiB holds ~10,000 at most.
    expect(cacheEntries()).toBeLessThanOrEqual(budget / 100);
    s.close();
    expect(cacheEntries()).toBe(0);
  });
});

describe('AVML tiny chunks, corrupt', () => {
  const variant = (name: string, edit: (b: Buffer) => void): string => {
    const b = fs.readFileSync(tiny);
    edit(b);
    const file = path.join(tmp, name);
    fs.writeFileSync(file, b);
    return file;
  };

  it('a CRC mismatch in a one-byte chunk inside a span: export --verify names that chunk', async () => {
    const c = tinyWritten.chunks[5003];
    const crc = fs.readFileSync(tiny).readUInt32LE(c.fileOffset + 4);
    const file = variant('crc.avml', (b) => b.writeUInt32LE((crc ^ 0x100) >>> 0, c.fileOffset + 4));
    const out = path.join(tmp, 'crc.padded');
    const r = await memview('export', file, '--verify', '--view', 'padded', '-o', out);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `memview: ${file}: CRC mismatch in the Snappy chunk at file offset ${h(c.fileOffset)}: stored ${h((crc ^ 0x100) >>> 0)}, computed ${h(crc)}; export stopped, nothing was written to ${out}\n`,
    );
  });

  it('corrupt Snappy data in a one-byte compressed chunk inside a span: the read fails naming that chunk', async () => {
    const c = tinyWritten.chunks.slice(7000).find((k) => k.type === 0)!;
    // Body: CRC (4), varint 1, then the literal tag: make it a copy from before the start.
    const file = variant('corrupt.avml', (b) => {
      b[c.fileOffset + 4 + 4 + 1] = 0x0d;
    });
    const r = await memview('export', file, '--view', 'padded', '-o', path.join(tmp, 'corrupt.padded'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^memview: ${file}: corrupt Snappy data in the chunk at file offset ${h(c.fileOffset)}: [^\n]*\n$`));
  });
});
