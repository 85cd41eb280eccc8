import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memview, run, RunningMount, sha256sum, startMount, tempDir } from './helpers/cli';
import { readElf } from './helpers/elf-reader';
import { expectedLime, expectedPadded, expectedRaw, fileSha256, materialise, physicalBytes, Range, sha256, writeChunks, writeMachine } from './helpers/machine';

// Unaligned end below 1 MiB, an aligned range, and a range past 64 MiB: padded stays small enough to hash.
const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x1fffff },
  { start: 0x4000000, end: 0x40fffff },
];

describe('a real FUSE mount of a raw image + iomem', () => {
  const tmp = tempDir();
  const m = writeMachine(path.join(tmp, 'src'), RANGES, 0x77);
  const sourceSha = fileSha256(m.raw);
  const dir = path.join(tmp, 'mnt');
  let mount: RunningMount;

  beforeAll(async () => {
    mount = await startMount(m.raw, dir, ['--map', m.iomem]);
  });
  afterAll(async () => {
    await mount?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('lists every view, read-only, with exact sizes', async () => {
    const names = fs.readdirSync(dir).sort();
    expect(names).toEqual(expect.arrayContaining(['info.json', 'iomem.txt', 'memory.elf', 'memory.lime', 'padded.raw', 'raw.bin']));
    const st = fs.statSync(path.join(dir, 'padded.raw'));
    expect(st.mode & 0o777).toBe(0o444);
    expect(st.size).toBe(0x4100000);
    expect(fs.statSync(path.join(dir, 'memory.lime')).size).toBe(materialise(expectedLime(RANGES, m.salt)).length);
    expect(Math.abs(st.mtimeMs - fs.statSync(m.raw).mtimeMs)).toBeLessThan(1);
  });

  it('serves padded, LiME and raw bytes equal to the reference writers (sha256sum in a child process)', async () => {
    expect(await sha256sum(path.join(dir, 'padded.raw'))).toBe(sha256(expectedPadded(RANGES, m.salt)));
    expect(await sha256sum(path.join(dir, 'memory.lime'))).toBe(sha256(expectedLime(RANGES, m.salt)));
    expect(await sha256sum(path.join(dir, 'raw.bin'))).toBe(sha256(expectedRaw(RANGES, m.salt)));
  });

  it('serves an ELF core that readelf lists cleanly and whose PT_LOADs hold the RAM', async () => {
    const elfPath = path.join(dir, 'memory.elf');
    const r = await run('readelf', ['-h', '-l', '-W', elfPath]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('CORE (Core file)');
    expect(r.stdout.match(/^\s+LOAD\s/gm)).toHaveLength(RANGES.length);
    const copy = path.join(tmp, 'copy.elf');
    expect((await run('cp', [elfPath, copy])).code).toBe(0);
    const bytes = fs.readFileSync(copy);
    expect(bytes.length).toBe(fs.statSync(elfPath).size);
    const core = readElf(bytes);
    const loads = core.phdrs.filter((p) => p.type === 1);
    expect(core.phdrs[0].type).toBe(4);
    loads.forEach((p, i) => {
      expect(Number(p.paddr)).toBe(RANGES[i].start);
      expect(p.offset % 4096).toBe(0);
      // Loads are page-rounded: bytes past a range's unaligned end are zeros (a raw source does not hold them).
      // (Buffer.equals: vitest's toEqual on MiB buffers takes seconds per call.)
      expect(bytes.subarray(p.offset, p.offset + p.filesz).equals(physicalBytes(RANGES, Number(p.paddr), p.filesz, m.salt)), `PT_LOAD ${i}`).toBe(true);
    });
  });

  it('serves iomem.txt that parses back to the same ranges', async () => {
    const r = await run('cat', [path.join(dir, 'iomem.txt')]);
    expect(r.stdout).toBe('00001000-0009fbff : System RAM\n00100000-001fffff : System RAM\n04000000-040fffff : System RAM\n');
  });

  it('export writes the same bytes as the mount, with holes as holes', async () => {
    const out = path.join(tmp, 'padded.out');
    const r = await memview('export', m.raw, '--map', m.iomem, '--view', 'padded', '-o', out);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect((await run('cmp', [out, path.join(dir, 'padded.raw')])).code).toBe(0);
    const blocks = fs.statSync(out).blocks * 512;
    expect(blocks).toBeLessThan(fs.statSync(out).size / 4); // the 60 MiB hole is not written
    // Full names and short names (`lime`, `elf`, `raw`) pick the same files as the mount's.
    for (const [view, file] of [
      ['memory.lime', 'memory.lime'],
      ['lime', 'memory.lime'],
      ['elf', 'memory.elf'],
      ['raw', 'raw.bin'],
      ['iomem', 'iomem.txt'],
    ]) {
      const out = path.join(tmp, `${view}.out`);
      expect((await memview('export', m.raw, '--map', m.iomem, '--view', view, '-o', out)).code, view).toBe(0);
      expect((await run('cmp', [out, path.join(dir, file)])).code, view).toBe(0);
    }
  });

  it('refuses every write-type operation', async () => {
    const f = path.join(dir, 'padded.raw');
    for (const [cmd, args] of [
      ['sh', ['-c', `echo x > ${f}`]],
      ['sh', ['-c', `echo x >> ${f}`]],
      ['truncate', ['-s', '0', f]],
      ['touch', [path.join(dir, 'new-file')]],
      ['rm', ['-f', f]],
      ['chmod', ['666', f]],
      ['mkdir', [path.join(dir, 'd')]],
      ['mv', [f, path.join(dir, 'renamed')]],
    ] as const) {
      const r = await run(cmd, [...args]);
      expect(r.code, `${cmd} ${args.join(' ')}`).not.toBe(0);
      expect(r.stderr).toMatch(/Read-only file system|Permission denied|Operation not permitted/);
    }
    expect(fs.statSync(f).size).toBe(0x4100000);
  });

  it('refuses a second mount on the same directory with the fix', async () => {
    const r = await memview('mount', m.raw, dir, '--map', m.iomem);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `memview: ${dir}: already mounted by memview (pid ${mount.child.pid}, user root); unmount it with: memview umount ${dir}, or mount on another directory`,
    );
  });

  it('leaves the source image unchanged', () => {
    expect(fileSha256(m.raw)).toBe(sourceSha);
  });
});

describe('the mount process', () => {
  it('unmounts cleanly on SIGINT and via memview umount', async () => {
    const tmp = tempDir();
    const m = writeMachine(path.join(tmp, 'src'), RANGES.slice(0, 2));
    const dir = path.join(tmp, 'mnt');
    try {
      const a = await startMount(m.raw, dir, ['--map', m.iomem]);
      a.child.kill('SIGINT');
      expect(await a.stop()).toBe(0);
      expect(fs.readdirSync(dir)).toEqual([]);
      const b = await startMount(m.raw, dir, ['--map', m.iomem]);
      expect((await memview('umount', dir)).code).toBe(0);
      expect(await b.stop()).toBe(0);
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('serves offsets above 4 GiB correctly (sample layout)', async () => {
    const tmp = tempDir();
    const ranges: Range[] = [
      { start: 0x1000, end: 0x9fbff },
      { start: 0x100000, end: 0x4fffff },
      { start: 0x100000000, end: 0x1000fffff },
    ];
    const m = writeMachine(path.join(tmp, 'src'), ranges, 0x5a5a);
    const dir = path.join(tmp, 'mnt');
    const ref = path.join(tmp, 'padded.ref');
    writeChunks(ref, expectedPadded(ranges, m.salt));
    const mount = await startMount(m.raw, dir, ['--map', m.iomem]);
    try {
      // Windows around the 4 GiB boundary and the file's end, read by dd in a child process.
      for (const skipMiB of [0, 4095, 4096]) {
        const a = await run('sh', ['-c', `dd if=${path.join(dir, 'padded.raw')} bs=1M skip=${skipMiB} count=1 status=none | sha256sum`]);
        const b = await run('sh', ['-c', `dd if=${ref} bs=1M skip=${skipMiB} count=1 status=none | sha256sum`]);
        expect(a.stdout).toBe(b.stdout);
      }
      expect(fs.statSync(path.join(dir, 'padded.raw')).size).toBe(0x100100000);
    } finally {
      await mount.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
