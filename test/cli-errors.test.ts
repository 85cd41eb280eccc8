import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memview, tempDir } from './helpers/cli';
import { expectedLime, fileSha256, materialise, Range, writeMachine } from './helpers/machine';

const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x1fffff },
];

/** Asserts a one-line error on stderr, no stack trace, and the exit code. */
function expectOneLineError(r: { code: number; stdout: string; stderr: string }, code: number, message: string | RegExp) {
  expect(r.code).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  if (typeof message === 'string') expect(lines[0]).toBe(message);
  else expect(lines[0]).toMatch(message);
}

describe('bad input: one line, exit 2, the source untouched', () => {
  const tmp = tempDir();
  const m = writeMachine(path.join(tmp, 'm'), RANGES);
  const sha = fileSha256(m.raw);
  afterAll(() => {
    expect(fileSha256(m.raw)).toBe(sha);
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const write = (name: string, text: string | Buffer) => {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, text);
    return p;
  };

  it('nonexistent source', async () => {
    const missing = path.join(tmp, 'nope.raw');
    expectOneLineError(await memview('info', missing, '--map', m.iomem), 2, `memview: ${missing}: no such file`);
  });

  it('a directory as source', async () => {
    expectOneLineError(await memview('info', tmp, '--map', m.iomem), 2, `memview: ${tmp}: is a directory, not an image file`);
  });

  it('an empty source', async () => {
    const empty = write('empty.raw', '');
    expectOneLineError(await memview('info', empty, '--map', m.iomem), 2, `memview: ${empty}: file is empty`);
  });

  it('an iomem read without root', async () => {
    const zero = write('zero.iomem', '00000000-00000000 : Reserved\n00000000-00000000 : System RAM\n');
    expectOneLineError(await memview('info', m.raw, '--map', zero), 2, /zero\.iomem: every iomem line reads 00000000-00000000: it was read without root/);
  });

  it('an image whose size does not match the map', async () => {
    const other = write('other.iomem', '00001000-00001fff : System RAM\n');
    expectOneLineError(
      await memview('info', m.raw, '--map', other),
      2,
      `memview: ${m.raw}: raw image is ${0x9ec00 + 0x100000} bytes but the map's System RAM totals 4096 bytes (difference ${0x9ec00 + 0x100000 - 4096}); wrong map for this image?`,
    );
  });

  it('overlapping ranges in the map', async () => {
    const bad = write('overlap.iomem', '00001000-00004fff : System RAM\n00003000-00008fff : System RAM\n');
    expectOneLineError(await memview('info', m.raw, '--map', bad), 2, `memview: ${bad}: iomem: RAM ranges 0x1000-0x4fff and 0x3000-0x8fff overlap`);
  });

  it('a missing map file', async () => {
    const missing = path.join(tmp, 'missing.iomem');
    expectOneLineError(await memview('info', m.raw, '--map', missing), 2, `memview: ${missing}: no such file`);
  });

  it('a raw image with no map', async () => {
    expectOneLineError(await memview('info', m.raw), 2, /needs a memory map.*pass --map/);
  });

  it('a missing mountpoint', async () => {
    const dir = path.join(tmp, 'no-such-dir');
    expectOneLineError(await memview('mount', m.raw, dir, '--map', m.iomem), 2, `memview: ${dir}: mountpoint does not exist; create it with: mkdir -p ${dir}`);
  });

  it('a non-empty mountpoint', async () => {
    const dir = path.join(tmp, 'full');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'x'), 'x');
    expectOneLineError(await memview('mount', m.raw, dir, '--map', m.iomem), 2, `memview: ${dir}: mountpoint is not empty; use an empty directory`);
  });

  it('a file as mountpoint', async () => {
    expectOneLineError(await memview('mount', m.raw, m.iomem, '--map', m.iomem), 2, `memview: ${m.iomem}: mountpoint is not a directory`);
  });

  it('an unknown view and an existing output for export', async () => {
    const out = path.join(tmp, 'out.bin');
    expectOneLineError(
      await memview('export', m.raw, '--map', m.iomem, '--view', 'bogus', '-o', out),
      2,
      /--view: unknown view "bogus"; one of: padded\.raw, memory\.lime/,
    );
    fs.writeFileSync(out, 'keep');
    expectOneLineError(
      await memview('export', m.raw, '--map', m.iomem, '--view', 'padded', '-o', out),
      2,
      `memview: ${out}: already exists; pass --force to overwrite`,
    );
    expect(fs.readFileSync(out, 'utf8')).toBe('keep');
    expectOneLineError(
      await memview('export', m.raw, '--map', m.iomem, '--view', 'padded', '-o', m.raw, '--force'),
      2,
      `memview: ${m.raw}: is the source image; refusing to overwrite evidence`,
    );
  });

  it('unknown options and a bad --cache-mb exit 2', async () => {
    expect((await memview('info', m.raw, '--bogus')).code).toBe(2);
    expectOneLineError(
      await memview('info', m.raw, '--map', m.iomem, '--cache-mb', 'lots'),
      2,
      'memview: --cache-mb: expected a whole number of MiB, got "lots"',
    );
  });

  it('memview map on a LiME file says it carries its own ranges', async () => {
    const lime = path.join(tmp, 'own-map.lime');
    fs.writeFileSync(lime, materialise(expectedLime(RANGES)));
    expectOneLineError(
      await memview('map', lime),
      2,
      `memview: ${lime}: a lime image (LiME magic 0x4c694d45 at offset 0) carries its own RAM ranges; 'memview info ${lime}' lists them (memview map is for headerless raw images)`,
    );
  });

  it('umount of a directory that is not mounted', async () => {
    expectOneLineError(await memview('umount', tmp), 2, `memview: ${tmp}: nothing is mounted here`);
  });
});
