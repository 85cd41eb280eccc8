/**
 * export never destroys an input and never leaves a partial image under the
 * requested name (issue 11, cases 2 and 3): real signals, a real full file
 * system (tmpfs), a real file-size limit (ext4 on a loop device), real pipes.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, memview, run, RunningMount, startMount, tempDir } from './helpers/cli';
import { fileSha256, Range, writeMachine } from './helpers/machine';

const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x4fffff },
];
const PADDED_SIZE = 0x500000;

const isRoot = process.getuid?.() === 0;

/** A 512 MiB raw image (sparse: it costs no disk) and its map: an export long enough to be caught in the middle. */
function bigMachine(dir: string): { raw: string; map: string } {
  fs.mkdirSync(dir, { recursive: true });
  const raw = path.join(dir, 'big.raw');
  fs.writeFileSync(raw, '');
  fs.truncateSync(raw, BIG);
  const map = path.join(dir, 'big.iomem');
  fs.writeFileSync(map, '00000000-1fffffff : System RAM\n');
  return { raw, map };
}
const BIG = 512 << 20;

/** Resolves once `dir` has an entry (the export's temporary file), with `child` stopped (SIGSTOP). */
function stopWhenWriting(dir: string, child: { kill(sig: NodeJS.Signals): boolean }): Promise<void> {
  return new Promise<void>((resolve) => {
    const watcher = fs.watch(dir, () => {
      if (fs.readdirSync(dir).length === 0) return;
      child.kill('SIGSTOP');
      watcher.close();
      resolve();
    });
  });
}

/** One line on stderr, nothing else; returns it. */
function oneLine(stderr: string): string {
  expect(stderr).toMatch(/^memview: [^\n]+\n$/);
  return stderr.trimEnd();
}

describe('export refuses every input as its output, by device and inode', () => {
  const tmp = tempDir('memview-export-inputs-');
  const m = writeMachine(path.join(tmp, 'machine'), RANGES);
  const mounts: RunningMount[] = [];
  afterAll(async () => {
    for (const x of mounts) await x.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const sums = () => [fileSha256(m.raw), fileSha256(m.iomem)];
  const before = sums();

  it('-o the --map file (also through a symlink and a hard link), with --force: refused, unchanged', async () => {
    fs.symlinkSync(m.iomem, path.join(tmp, 'map-link'));
    fs.linkSync(m.iomem, path.join(tmp, 'map-hard'));
    for (const out of [m.iomem, path.join(tmp, 'map-link'), path.join(tmp, 'map-hard')]) {
      const r = await memview('export', m.raw, '--map', m.iomem, '--view', 'padded', '-o', out, '--force');
      expect(r.code, r.stderr).toBe(2);
      expect(oneLine(r.stderr)).toBe(`memview: ${out}: is the map file given with --map; refusing to overwrite evidence`);
    }
    expect(sums()).toEqual(before);
  });

  it('-o the source through a hard link and a symlink: refused', async () => {
    fs.linkSync(m.raw, path.join(tmp, 'src-hard'));
    fs.symlinkSync(m.raw, path.join(tmp, 'src-link'));
    for (const out of [path.join(tmp, 'src-hard'), path.join(tmp, 'src-link')]) {
      const r = await memview('export', m.raw, '--map', m.iomem, '--view', 'padded', '-o', out, '--force');
      expect(r.code, r.stderr).toBe(2);
      expect(oneLine(r.stderr)).toBe(`memview: ${out}: is the source image; refusing to overwrite evidence`);
    }
    expect(sums()).toEqual(before);
  });

  it('exporting from a memview mount, -o the file behind the mount: refused, the evidence keeps its bytes', async () => {
    const mnt = await startMount(m.raw, path.join(tmp, 'mnt'), ['--map', m.iomem]);
    mounts.push(mnt);
    const viewRaw = path.join(mnt.dir, 'raw.bin');
    const viewMap = path.join(mnt.dir, 'iomem.txt');
    for (const out of [m.raw, path.join(tmp, 'src-hard')]) {
      const r = await memview('export', viewRaw, '--format', 'raw', '--map', viewMap, '--view', 'padded', '-o', out, '--force');
      expect(r.code, r.stderr).toBe(2);
      expect(oneLine(r.stderr)).toBe(`memview: ${out}: is the source image behind the memview mount that ${viewRaw} is on; refusing to overwrite evidence`);
    }
    expect(sums()).toEqual(before);
    // An ordinary output still works, and --force overwrites ordinary files.
    const out = path.join(tmp, 'copy.padded');
    fs.writeFileSync(out, 'old');
    const ok = await memview('export', viewRaw, '--format', 'raw', '--map', viewMap, '--view', 'padded', '-o', out, '--force');
    expect(ok, ok.stderr).toMatchObject({ code: 0 });
    expect(fileSha256(out)).toBe(await run('sha256sum', [path.join(mnt.dir, 'padded.raw')]).then((r) => r.stdout.split(' ')[0]));
  });

  it('--force through a symlink writes the file it points to and keeps the symlink', async () => {
    const real = path.join(tmp, 'real.padded');
    const link = path.join(tmp, 'out-link');
    fs.writeFileSync(real, 'old');
    fs.symlinkSync(real, link);
    const r = await memview('export', m.raw, '--map', m.iomem, '--view', 'padded', '-o', link, '--force');
    expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.statSync(real).size).toBe(PADDED_SIZE);
  });
});

describe('an interrupted or failed export leaves nothing under the requested name', () => {
  const tmp = tempDir('memview-export-fail-');
  const m = writeMachine(path.join(tmp, 'machine'), RANGES);
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    it(`${signal} during the export: exit ${code}, one line, no file under the name, no temporary file left`, async () => {
      const dir = path.join(tmp, signal);
      const { raw, map } = bigMachine(dir);
      const outDir = path.join(dir, 'out');
      fs.mkdirSync(outDir);
      const out = path.join(outDir, 'big.padded');
      const child = spawn(process.execPath, [BIN, 'export', raw, '--map', map, '--view', 'raw', '-o', out], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      // Stop it as soon as it has started writing, deliver the signal, let it run on.
      await stopWhenWriting(outDir, child);
      expect(fs.readdirSync(outDir)[0]).toMatch(/^\.big\.padded\.memview-partial-\d+$/);
      child.kill(signal);
      child.kill('SIGCONT');
      expect(await exited).toBe(code);
      expect(oneLine(stderr)).toMatch(
        new RegExp(
          `^memview: ${out}: export interrupted by ${signal} after \\d+ of ${BIG} bytes; the partial copy was removed, nothing is left under that name$`,
        ),
      );
      expect(fs.readdirSync(outDir)).toEqual([]);
    });
  }

  it.runIf(isRoot)('ENOSPC (a 1 MiB tmpfs): exit 1, one line, no file left; an existing file under the name keeps its bytes', async () => {
    const full = path.join(tmp, 'full');
    fs.mkdirSync(full);
    expect((await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', full])).code).toBe(0);
    cleanup.push(() => run('umount', [full]));
    const out = path.join(full, 'out.padded');
    const r = await memview('export', m.raw, '--map', m.iomem, '--view', 'padded', '-o', out);
    expect(r.code, r.stderr).toBe(1);
    expect(oneLine(r.stderr)).toMatch(
      new RegExp(
        `^memview: ${out}: cannot write at offset \\d+ of ${PADDED_SIZE}: no space left on device \\(ENOSPC\\); the partial copy was removed, nothing is left under that name$`,
      ),
    );
    expect(fs.readdirSync(full)).toEqual([]);
    fs.writeFileSync(out, 'previous export');
    const again = await memview('export', m.raw, '--map', m.iomem, '--view', 'padded', '-o', out, '--force');
    expect(again.code).toBe(1);
    expect(fs.readdirSync(full)).toEqual(['out.padded']);
    expect(fs.readFileSync(out, 'utf8')).toBe('previous export');
  });

  it.runIf(isRoot)('EFBIG (a 4 PiB padded view on ext4): exit 2, names the output, the size and the limit; no file left', async () => {
    const img = path.join(tmp, 'ext4.img');
    const mnt = path.join(tmp, 'ext4');
    fs.mkdirSync(mnt);
    expect((await run('mkfs.ext4', ['-q', '-F', '-b', '4096', img, '16M'])).code).toBe(0);
    expect((await run('mount', ['-o', 'loop', img, mnt])).code).toBe(0);
    cleanup.push(() => run('umount', [mnt]));
    // 8 KiB of RAM at 4 PiB: the padded view is 4 PiB + 8 KiB, ext4 (4 KiB blocks) holds at most 16 TiB - 4 KiB.
    const raw = path.join(tmp, 'high.raw');
    fs.writeFileSync(raw, Buffer.alloc(0x2000, 0x5a));
    const map = path.join(tmp, 'high.iomem');
    fs.writeFileSync(map, '10000000000000-10000000001fff : System RAM\n');
    const out = path.join(mnt, 'huge.padded');
    const r = await memview('export', raw, '--map', map, '--view', 'padded', '-o', out);
    expect(r.code, r.stderr).toBe(2);
    const size = 2 ** 52 + 0x2000;
    const limit = 2 ** 44 - 4096;
    expect(oneLine(r.stderr)).toBe(
      `memview: ${out}: the view is ${size} bytes (4.0 PiB), larger than the largest file this file system (or ulimit -f) allows, ${limit} bytes (16.0 TiB); ` +
        'the partial copy was removed, nothing is left under that name; export to a file system that holds it (xfs, btrfs, tmpfs), or export raw.bin with iomem.txt',
    );
    expect(fs.readdirSync(mnt).filter((f) => f !== 'lost+found')).toEqual([]);
  });

  it('a read error (the source shrinks during the export): exit 2, one line naming the source, nothing left', async () => {
    // The source loses its tail between open and read: the export cannot complete.
    const dir = path.join(tmp, 'shrink');
    const { raw, map } = bigMachine(dir);
    const outDir = path.join(dir, 'out');
    fs.mkdirSync(outDir);
    const out = path.join(outDir, 'big.raw');
    const child = spawn(process.execPath, [BIN, 'export', raw, '--map', map, '--view', 'raw', '-o', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    await stopWhenWriting(outDir, child);
    fs.truncateSync(raw, 1 << 20);
    child.kill('SIGCONT');
    expect(await exited).toBe(2);
    expect(oneLine(stderr)).toMatch(new RegExp(`^memview: ${raw}: short read at source offset 0x[0-9a-f]+; export stopped, nothing was written to ${out}$`));
    expect(fs.readdirSync(outDir)).toEqual([]);
  });

  it('to a FIFO whose reader goes away (head -c): exit 1, one line with how many bytes went out', async () => {
    const fifo = path.join(tmp, 'out.fifo');
    expect((await run('mkfifo', [fifo])).code).toBe(0);
    const reader = run('head', ['-c', '100000', fifo]);
    const r = await memview('export', m.raw, '--map', m.iomem, '--view', 'padded', '-o', fifo);
    expect((await reader).code).toBe(0);
    expect(r.code, r.stderr).toBe(1);
    const line = oneLine(r.stderr);
    const sent = new RegExp(`^memview: ${fifo}: the reader closed the pipe; (\\d+) of ${PADDED_SIZE} bytes went out; what was received is incomplete$`).exec(
      line,
    );
    expect(sent, line).not.toBeNull();
    expect(Number(sent![1])).toBeGreaterThanOrEqual(100_000);
    expect(Number(sent![1])).toBeLessThan(PADDED_SIZE);
  });

  for (const output of ['-', '/dev/stdout']) {
    it(`-o ${output} on a socket stdout (a parent's socketpair), interrupted: says how many bytes went out`, async () => {
      const big = bigMachine(path.join(tmp, `pipe-int${output.replace(/\W/g, '')}`));
      const child = spawn(process.execPath, [BIN, 'export', big.raw, '--map', big.map, '--view', 'raw', '-o', output], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      // Read the first bytes, then stop reading: the writer blocks on the full socket; interrupt it.
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      child.stdout.pause();
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGINT');
      child.stdout.resume();
      expect(await exited).toBe(130);
      expect(oneLine(stderr)).toMatch(
        new RegExp(`^memview: ${output}: export interrupted by SIGINT; \\d+ of ${BIG} bytes went out; what was received is incomplete$`),
      );
    });
  }
});
