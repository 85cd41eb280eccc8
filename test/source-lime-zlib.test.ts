/**
 * LiME compress=1: one zlib stream (windowBits 11, as the LiME module's
 * zlib_deflateInit2 call; node's zlib writes the same stream format). The
 * index's random access is checked against node's zlib inflating the whole
 * stream (stored, fixed and dynamic blocks; checkpoints at every bit
 * offset); the source against the uncompressed LiME file read by memview.
 */
import { createHash, randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { BufferSource } from '../src/io/byte-source';
import { indexZlibStream, inflateSpan } from '../src/io/zlib-index';
import { memview, run, startMount, tempDir } from './helpers/cli';
import { materialise, Range } from './helpers/machine';
import { limeImage } from './helpers/source-writers';

const tmp = tempDir('memview-lime-zlib-');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Memory-like bytes: zero pages, random (incompressible: stored blocks) pages, text, address patterns. */
function mixed(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) >>> 0);
  for (let p = 0; p < length; p += 4096) {
    const n = Math.min(4096, length - p);
    const k = next() % 8;
    if (k < 2) continue;
    if (k < 4) randomFillSync(out, p, n);
    else if (k < 6) for (let i = 0; i + 8 <= n; i += 8) out.writeUInt32LE((p + i) ^ 0x5a5a, p + i);
    else out.write(`kernel text at ${p.toString(16)} `.repeat(400).slice(0, n), p, 'latin1');
  }
  return out;
}

describe('zlib index: random access into one stream', () => {
  for (const [windowBits, memLevel] of [
    [11, 5],
    [15, 8],
  ]) {
    it(`windowBits ${windowBits}: every checkpoint span equals node's zlib inflating the whole stream`, async () => {
      const data = mixed(24 * 1024 * 1024);
      const z = zlib.deflateSync(data, { windowBits, memLevel });
      const index = await indexZlibStream(new BufferSource(z, 'z'), { spacing: 64 * 1024, digests: ['sha256', 'md5'] });
      const whole = zlib.inflateSync(z);
      expect(index.size).toBe(whole.length);
      expect(index.streamEnd).toBe(z.length);
      expect(index.digests.sha256).toBe(createHash('sha256').update(whole).digest('hex'));
      expect(index.digests.md5).toBe(createHash('md5').update(whole).digest('hex'));
      expect(new Set(index.checkpoints.map((c) => c.bits)).size).toBeGreaterThan(3); // resumed mid-byte, several ways
      for (let i = 0; i < index.checkpoints.length; i++) {
        const cp = index.checkpoints[i];
        const span = await inflateSpan(new BufferSource(z, 'z'), index, i);
        expect(span.equals(whole.subarray(cp.out, cp.out + span.length)), `span ${i} at ${cp.out}`).toBe(true);
      }
      expect(
        index.checkpoints[index.checkpoints.length - 1].out + (await inflateSpan(new BufferSource(z, 'z'), index, index.checkpoints.length - 1)).length,
      ).toBe(whole.length);
    }, 120_000);
  }

  it("default spacing keeps the index under 1% of the image (LiME's 2 KiB window)", async () => {
    const data = mixed(32 * 1024 * 1024, 3);
    const index = await indexZlibStream(new BufferSource(zlib.deflateSync(data, { windowBits: 11, memLevel: 5 }), 'z'));
    expect(index.indexBytes / index.size).toBeLessThan(0.01);
    expect(index.checkpoints.length).toBeGreaterThan(30);
  });
});

const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0xffffff },
];

function limeZlib(dir: string, name = 'ram.lime'): { file: string; plain: string; lime: Buffer } {
  const lime = materialise(limeImage(RANGES));
  const file = path.join(dir, name);
  const z = zlib.deflateSync(lime, { windowBits: 11, memLevel: 5 });
  expect(z[0]).toBe(0x38); // what LiME's deflate.c writes first
  fs.writeFileSync(file, z);
  const plain = path.join(dir, `${name}.plain`);
  fs.writeFileSync(plain, lime);
  return { file, plain, lime };
}

describe('LiME compress=1 as a source', () => {
  it("info: detected, the records read through the inflated stream; every view equals the uncompressed file's", async () => {
    const { file, plain } = limeZlib(tmp);
    const info = await memview('info', file);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/format +lime-zlib \(zlib header 0x38 at offset 0 inflating to a LiME header \(LiME compress=1\)\)/);
    expect(info.stdout).toMatch(/LiME compress=1: one zlib stream \(window 2048 bytes\)/);
    expect(info.stdout).toMatch(/map +LiME headers: 2 RAM ranges/);
    for (const view of ['memory.lime', 'raw.bin', 'memory.elf']) {
      const a = path.join(tmp, `a-${view}`);
      const b = path.join(tmp, `b-${view}`);
      expect((await memview('export', file, '--view', view, '-o', a, '--vmcoreinfo', 'off')).code).toBe(0);
      expect((await memview('export', plain, '--view', view, '-o', b, '--vmcoreinfo', 'off')).code).toBe(0);
      expect((await run('cmp', [a, b])).code, view).toBe(0);
    }
  }, 240_000);

  it('digest= sidecar: info says match, or MISMATCH with both digests', async () => {
    const dir = path.join(tmp, 'digest');
    fs.mkdirSync(dir);
    const { file, lime } = limeZlib(dir);
    const sha = createHash('sha256').update(lime).digest('hex');
    fs.writeFileSync(`${file}.sha256`, `${sha}\n`);
    expect((await memview('info', file)).stdout).toContain(`digest sha256 of the inflated stream matches ${file}.sha256 (${sha})`);
    const wrong = sha.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    fs.writeFileSync(`${file}.sha256`, wrong);
    expect((await memview('info', file)).stdout).toContain(`digest MISMATCH: ${file}.sha256 says sha256 ${wrong}, the inflated stream's is ${sha}`);
  });

  it("through a FUSE mount: random 4 KiB reads of padded.raw equal the uncompressed file's padded.raw", async () => {
    const dir = path.join(tmp, 'mnt');
    const { file, plain } = limeZlib(tmp, 'mounted.lime');
    const expected = path.join(tmp, 'expected.padded');
    expect((await memview('export', plain, '--view', 'padded.raw', '-o', expected)).code).toBe(0);
    const m = await startMount(file, dir);
    try {
      // A child process reads the mount (fuse-native serves on this process's loop).
      const script = `
const fs = require('fs');
const [mounted, expected] = process.argv.slice(1);
const a = fs.openSync(mounted, 'r'), b = fs.openSync(expected, 'r');
const size = fs.fstatSync(b).size;
let seed = 5, bad = 0;
for (let i = 0; i < 300; i++) {
  seed = (seed * 1103515245 + 12345) >>> 0;
  const at = Math.floor((seed / 2 ** 32) * (size - 4096));
  const x = Buffer.alloc(4096), y = Buffer.alloc(4096);
  fs.readSync(a, x, 0, 4096, at); fs.readSync(b, y, 0, 4096, at);
  if (!x.equals(y)) bad++;
}
console.log(bad);`;
      const r = await run(process.execPath, ['-e', script, path.join(dir, 'padded.raw'), expected]);
      expect(r.stdout.trim(), r.stderr).toBe('0');
    } finally {
      await m.stop();
    }
  });
});
