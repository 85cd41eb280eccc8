/**
 * The two FUSE backends: which one serves (and says so), the fallback when
 * the native addon is missing, and what only the native backend does (its
 * own unmount on process exit, mounts by an unprivileged user through
 * fusermount, the mount reported read-only).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memview, ROOT, run, RunningMount, sha256sum, startMount, tempDir } from './helpers/cli';
import { expectedPadded, Range, sha256, writeMachine } from './helpers/machine';

const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x2ffffff },
];
const PADDED_SHA = sha256(expectedPadded(RANGES, 0x16));

const tmp = tempDir('memview-backends-');
const m = writeMachine(path.join(tmp, 'src'), RANGES, 0x16);
const mounts: RunningMount[] = [];
afterAll(async () => {
  for (const r of mounts) await r.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function mountTableLine(dir: string): string | undefined {
  return fs
    .readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[1] === dir);
}

/** Waits (up to 5 s) until nothing is mounted on `dir`. */
async function unmountedWithin(dir: string): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (!mountTableLine(dir)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe('FUSE backends', () => {
  it('--backend native: libfuse 3, 1008 KiB requests, mounted read-only; the bytes equal the reference', async () => {
    const dir = path.join(tmp, 'native');
    const r = await startMount(m.raw, dir, ['--map', m.iomem, '--backend', 'native', '--vmcoreinfo', 'off']);
    mounts.push(r);
    expect(r.output()).toMatch(/^ {2}served by: native \(libfuse 3\.\d+\.\d+, 1008 KiB requests, /m);
    const line = mountTableLine(dir)!;
    expect(line.split(' ')[2]).toBe('fuse.memview');
    expect(line.split(' ')[3].split(',')).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev', 'max_read=1032192']));
    expect(await sha256sum(path.join(dir, 'padded.raw'))).toBe(PADDED_SHA);
    expect((await run('stat', ['-f', '-c', '%S %l', dir])).stdout.trim()).toBe('4096 255');
  });

  it('--backend fuse-native: says so, serves the same bytes', async () => {
    const dir = path.join(tmp, 'fuse-native');
    const r = await startMount(m.raw, dir, ['--map', m.iomem, '--backend', 'fuse-native', '--vmcoreinfo', 'off']);
    mounts.push(r);
    expect(r.output()).toContain('  served by: fuse-native (libfuse 2, reads on the JS thread)\n');
    expect(await sha256sum(path.join(dir, 'padded.raw'))).toBe(PADDED_SHA);
  });

  it('an unknown backend is bad input', async () => {
    const r = await memview('mount', m.raw, path.join(tmp, 'src'), '--backend', 'kernel');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('memview: backend: expected one of auto, native, fuse-native, got "kernel"\n');
  });

  describe('without the native addon (a copy of memview whose native/ was never built)', () => {
    const copy = path.join(tmp, 'copy');
    fs.mkdirSync(copy);
    for (const entry of ['bin', 'dist', 'package.json']) fs.cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
    const bin = path.join(copy, 'bin', 'memview');

    it('auto falls back to fuse-native with one line saying why', async () => {
      const dir = path.join(tmp, 'fallback');
      const r = await startMount(m.raw, dir, ['--map', m.iomem, '--vmcoreinfo', 'off', '--backend', 'auto'], 60_000, bin);
      mounts.push(r);
      expect(r.output()).toContain('  served by: fuse-native (libfuse 2, reads on the JS thread): the native one is unavailable: native addon not built');
      expect(await sha256sum(path.join(dir, 'padded.raw'))).toBe(PADDED_SHA);
    });

    it('--backend native is refused in one line', async () => {
      const dir = path.join(tmp, 'refused');
      fs.mkdirSync(dir);
      const r = await run(process.execPath, [bin, 'mount', m.raw, dir, '--map', m.iomem, '--vmcoreinfo', 'off', '--backend', 'native']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^memview: backend native: native addon not built \([^\n]*\)\n$/);
      expect(mountTableLine(dir)).toBeUndefined();
    });
  });

  it('native: a mounting process that dies of an uncaught error leaves no mount behind', async () => {
    const dir = path.join(tmp, 'crash');
    fs.mkdirSync(dir);
    const script = `
const { mountFiles } = require(${JSON.stringify(path.join(ROOT, 'dist/src/fuse/mount.js'))});
const { openSource } = require(${JSON.stringify(path.join(ROOT, 'dist/src/sources/open.js'))});
const { buildViews } = require(${JSON.stringify(path.join(ROOT, 'dist/src/views/index.js'))});
openSource(process.argv[1], { map: process.argv[2] }).then((src) => mountFiles(process.argv[3], buildViews(src), { mtime: src.mtime, backend: 'native' })).then(() => {
  // served from the addon's threads: this process can read its own mount
  const fd = require('fs').openSync(process.argv[3] + '/raw.bin', 'r');
  const b = Buffer.alloc(16);
  require('fs').readSync(fd, b, 0, 16, 0);
  process.stdout.write('read ' + b.toString('hex') + '\\n');
  require('fs').closeSync(fd);
  setTimeout(() => { throw new Error('boom'); }, 10);
});`;
    const r = await run(process.execPath, ['-e', script, m.raw, m.iomem, dir]);
    expect(r.stderr).toContain('Error: boom');
    expect(r.stdout).toBe(`read ${fs.readFileSync(m.raw).subarray(0, 16).toString('hex')}\n`);
    expect(await unmountedWithin(dir)).toBe(true);
  });

  it.runIf(process.getuid?.() === 0)('native: an unprivileged user mounts through fusermount (private mount namespace with a 0666 /dev/fuse)', async () => {
    // /dev/fuse is 0600 on this machine: a device node of our own, bound over it in a namespace only this test sees.
    const box = tempDir('memview-nonroot-');
    try {
      fs.chmodSync(box, 0o755);
      const dev = path.join(box, 'fuse');
      expect((await run('mknod', ['-m', '666', dev, 'c', '10', '229'])).code).toBe(0);
      const image = path.join(box, 'machine.raw');
      fs.copyFileSync(m.raw, image);
      fs.copyFileSync(m.iomem, `${image}.iomem`);
      fs.chmodSync(image, 0o644);
      const dir = path.join(box, 'mnt');
      fs.mkdirSync(dir);
      fs.chownSync(dir, 65534, 65534);
      const script = [
        'set -e',
        `mount --bind "$1" /dev/fuse`,
        `setpriv --reuid=65534 --regid=65534 --clear-groups node "$2" mount "$3" "$4" --map "$3.iomem" --vmcoreinfo off --backend native > "$5/out" 2>&1 &`,
        'for i in $(seq 100); do grep -q " $4 " /proc/self/mounts && break; sleep 0.1; done',
        'grep " $4 " /proc/self/mounts',
        'setpriv --reuid=65534 --regid=65534 --clear-groups sha256sum "$4/padded.raw"',
        'kill -INT $!; wait $! || true',
        'cat "$5/out"',
        'grep -c " $4 " /proc/self/mounts || true',
      ].join('\n');
      const r = await run('unshare', [
        '-m',
        '--propagation',
        'private',
        'bash',
        '-c',
        script,
        'memview-test',
        dev,
        path.join(ROOT, 'bin', 'memview'),
        image,
        dir,
        box,
      ]);
      expect(r.stderr).toBe('');
      const [mountLine, shaLine, ...rest] = r.stdout.trim().split('\n');
      expect(mountLine).toContain('user_id=65534');
      expect(shaLine.split(' ')[0]).toBe(PADDED_SHA);
      expect(rest.join('\n')).toContain('served by: native (libfuse 3.');
      expect(rest.join('\n')).toContain('kernel readahead (raising it needs root)');
      expect(rest[rest.length - 1]).toBe('0');
    } finally {
      fs.rmSync(box, { recursive: true, force: true });
    }
  });
});
