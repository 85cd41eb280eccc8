/**
 * The chain LiME -> padded -> ELF -> raw through real FUSE mounts: each mount
 * (its own `memview mount` process) reads the previous mount's view as its
 * source, and the last one serves bytes equal to the independent writers'.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memview, run, RunningMount, startMount, tempDir } from './helpers/cli';
import { expectedLime, expectedPadded, expectedRaw, iomemText, Range, writeChunks } from './helpers/machine';
import { limeImage, saltedRam } from './helpers/source-writers';

const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x2fffff },
  { start: 0x303018, end: 0x3fffff }, // starts mid-page
  { start: 0x8000000, end: 0x80fffff }, // after a 124 MiB hole
];
const SALT = 0x6c6d;

describe('LiME -> padded -> ELF -> raw through FUSE mounts', () => {
  const tmp = tempDir('memview-chain-');
  const lime = path.join(tmp, 'dump.lime');
  writeChunks(lime, limeImage(RANGES, saltedRam(SALT)));
  const refs = { padded: path.join(tmp, 'ref.padded'), lime: path.join(tmp, 'ref.lime'), raw: path.join(tmp, 'ref.raw') };
  writeChunks(refs.padded, expectedPadded(RANGES, SALT));
  writeChunks(refs.lime, expectedLime(RANGES, SALT));
  writeChunks(refs.raw, expectedRaw(RANGES, SALT));
  const mounts: RunningMount[] = [];
  const mnt = (i: number) => path.join(tmp, `mnt${i}`);

  beforeAll(async () => {
    mounts.push(await startMount(lime, mnt(0)));
    mounts.push(await startMount(path.join(mnt(0), 'padded.raw'), mnt(1), ['--map', path.join(mnt(0), 'iomem.txt')]));
    mounts.push(await startMount(path.join(mnt(1), 'memory.elf'), mnt(2), ['--map', path.join(mnt(1), 'iomem.txt')]));
    mounts.push(await startMount(path.join(mnt(2), 'raw.bin'), mnt(3), ['--map', path.join(mnt(2), 'iomem.txt')]));
  });
  afterAll(async () => {
    // Last mount first: each one reads the one before it.
    for (const m of [...mounts].reverse()) {
      await memview('umount', m.dir);
      await m.stop();
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('each mount detected its source as the shape it was given', async () => {
    const formats = [];
    for (let i = 0; i < 4; i++) formats.push(JSON.parse((await run('cat', [path.join(mnt(i), 'info.json')])).stdout).source.format);
    expect(formats).toEqual(['lime', 'padded', 'elf', 'raw']);
  });

  it('the last mount serves padded, LiME and raw equal to the reference writers, and the same ELF and map as the first', async () => {
    const cmp = async (a: string, b: string) => (await run('cmp', [a, b])).code;
    expect(await cmp(path.join(mnt(3), 'padded.raw'), refs.padded)).toBe(0);
    expect(await cmp(path.join(mnt(3), 'memory.lime'), refs.lime)).toBe(0);
    expect(await cmp(path.join(mnt(3), 'raw.bin'), refs.raw)).toBe(0);
    expect(await cmp(path.join(mnt(3), 'memory.elf'), path.join(mnt(0), 'memory.elf'))).toBe(0);
    expect((await run('cat', [path.join(mnt(3), 'iomem.txt')])).stdout).toBe(
      iomemText(RANGES)
        .split('\n')
        .filter((l) => l.endsWith(': System RAM'))
        .map((l) => l + '\n')
        .join(''),
    );
  });
});
