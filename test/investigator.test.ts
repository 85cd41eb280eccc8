import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, memview, ROOT, run, RunningMount, startMount, tempDir } from './helpers/cli';
import { expectedPadded, expectedRaw, fileSha256, iomemText, Range, sha256, writeMachine } from './helpers/machine';

/**
 * What an investigator does with real evidence that the format tests do not:
 * paths with spaces, maps saved on Windows, exports to pipes and devices,
 * a hard link to the evidence as the output, a pipe as the source.
 */
const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x2fffff },
];
const SALT = 0x77;

function oneLine(r: { code: number; stdout: string; stderr: string }, code: number, message: string | RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  if (typeof message === 'string') expect(lines[0]).toBe(message);
  else expect(lines[0]).toMatch(message);
}

/** Runs a shell command line (pipes, quoting) in a child process. */
const sh = (line: string) => run('sh', ['-c', line]);
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('an investigator at work', () => {
  const tmp = tempDir('memview-investigator-');
  const case_ = path.join(tmp, 'case 42 (evidence)');
  const m = writeMachine(case_, RANGES, SALT);
  const sha = fileSha256(m.raw);
  const mounts: RunningMount[] = [];
  afterAll(async () => {
    for (const mt of mounts) await mt.stop();
    expect(fileSha256(m.raw)).toBe(sha);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('--version prints the version of package.json (for the case notes)', async () => {
    const r = await memview('--version');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  });

  it('reading the evidence leaves its access time alone (O_NOATIME: timelines rely on it)', async () => {
    const ev = writeMachine(path.join(tmp, 'atime'), RANGES, SALT);
    const old = new Date('2020-01-01T00:00:00Z');
    fs.utimesSync(ev.raw, old, fs.statSync(ev.raw).mtime); // atime < mtime: relatime would update it on the next read
    expect((await memview('info', ev.raw, '--map', ev.iomem)).code).toBe(0);
    expect((await memview('export', ev.raw, '--map', ev.iomem, '--view', 'raw', '-o', '/dev/null')).code).toBe(0);
    const dir = path.join(tmp, 'atime-mnt');
    const mt = await startMount(ev.raw, dir, ['--map', ev.iomem]);
    mounts.push(mt);
    expect((await run('sha256sum', [path.join(dir, 'raw.bin')])).stdout.split(' ')[0]).toBe(sha256(expectedRaw(RANGES, SALT)));
    await mt.stop();
    expect(fs.statSync(ev.raw).atime.toISOString()).toBe(old.toISOString());
  });

  it('export never overwrites the evidence, not even through a hard link or a symlink', async () => {
    const hard = path.join(tmp, 'hardlink.raw');
    const soft = path.join(tmp, 'symlink.raw');
    fs.linkSync(m.raw, hard);
    fs.symlinkSync(m.raw, soft);
    for (const out of [hard, soft]) {
      oneLine(
        await memview('export', m.raw, '--map', m.iomem, '--view', 'padded', '-o', out, '--force'),
        2,
        `memview: ${out}: is the source image; refusing to overwrite evidence`,
      );
      expect(fileSha256(m.raw)).toBe(sha);
    }
  });

  it('export streams to a pipe and to /dev/null (no seeks, no --force)', async () => {
    const base = `${q(process.execPath)} ${q(BIN)} export ${q(m.raw)} --map ${q(m.iomem)} --vmcoreinfo off`;
    const piped = await sh(`${base} --view padded -o /dev/stdout | sha256sum`);
    expect(piped.stderr).toBe('');
    expect(piped.stdout.split(' ')[0]).toBe(sha256(expectedPadded(RANGES, SALT)));
    const devnull = await memview('export', m.raw, '--map', m.iomem, '--view', 'raw', '-o', '/dev/null', '--vmcoreinfo', 'off');
    expect(devnull.stderr).toBe('');
    expect(devnull.code).toBe(0);
  });

  it('export to a missing directory or onto a directory: one line naming the output', async () => {
    const missing = path.join(tmp, 'no such dir', 'out.raw');
    oneLine(
      await memview('export', m.raw, '--map', m.iomem, '--view', 'padded', '-o', missing),
      2,
      `memview: ${missing}: cannot create: directory ${path.dirname(missing)} does not exist`,
    );
    oneLine(
      await memview('export', m.raw, '--map', m.iomem, '--view', 'padded', '-o', tmp),
      2,
      new RegExp(`^memview: ${tmp}: is a directory; give a file name`),
    );
  });

  it("an unknown --view lists the views, a machine's many range files as one entry", async () => {
    const many = writeMachine(
      path.join(tmp, 'many'),
      [0, 1, 2, 3, 4, 5].map((i) => ({ start: 0x100000 * (i + 1), end: 0x100000 * (i + 1) + 0xfff })),
    );
    oneLine(
      await memview('export', many.raw, '--map', many.iomem, '--view', 'bogus', '-o', path.join(tmp, 'o'), '--vmcoreinfo', 'off'),
      2,
      /; one of: padded\.raw, memory\.lime, .*crash\.args, ranges\/… \(6 files, listed by memview info\), README\.txt, info\.json$/,
    );
  });

  it('--view vmcore on an image without a kernel note says why it is missing', async () => {
    oneLine(
      await memview('export', m.raw, '--map', m.iomem, '--view', 'vmcore', '-o', path.join(tmp, 'vmcore')),
      2,
      `memview: --view: vmcore is not served for ${m.raw}: no usable VMCOREINFO note in its RAM (memview info says why); memory.elf is the physical core`,
    );
  });

  it("umount refuses a mount that is not memview's (as root fusermount would unmount anything)", async () => {
    // Root: a tmpfs of our own (never a real disk). Others: /proc, which fusermount cannot unmount for them anyway.
    let dir = '/proc';
    let fstype = 'proc';
    if (process.getuid?.() === 0) {
      dir = path.join(tmp, 'tmpfs');
      fs.mkdirSync(dir);
      expect((await run('mount', ['-t', 'tmpfs', 'none', dir])).code).toBe(0);
      fstype = 'tmpfs';
    }
    try {
      oneLine(await memview('umount', dir), 2, `memview: ${dir}: not a memview mount (${fstype}); not unmounting it`);
      oneLine(await memview('umount', '--force', dir), 2, `memview: ${dir}: not a memview mount (${fstype}); not unmounting it`);
      expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).toContain(` ${dir} `);
    } finally {
      if (dir !== '/proc') await run('umount', [dir]);
    }
  });

  // Runs where /dev/fuse is closed to other users (containers: mode 0600) and we can become nobody.
  const fuseClosed = process.getuid?.() === 0 && fs.existsSync('/dev/fuse') && (fs.statSync('/dev/fuse').mode & 0o006) !== 0o006;
  it.runIf(fuseClosed)('mount without access to /dev/fuse: one line that says so (not libfuse\'s line and "fuse failed")', async () => {
    const dir = path.join(tmp, 'nobody-mnt');
    fs.mkdirSync(dir);
    fs.chownSync(dir, 65534, 65534);
    fs.chmodSync(tmp, 0o755);
    const r = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'mount', m.raw, dir, '--map', m.iomem]);
    oneLine(r, 1, 'memview: /dev/fuse: permission denied; mounting needs read-write access to it (root, or a system where it is mode 0666)');
  });

  it('info prints every fact info --json has', async () => {
    // --vmcoreinfo off: the scan's timing would differ between the two runs.
    const text = (await memview('info', m.raw, '--map', m.iomem, '--vmcoreinfo', 'off')).stdout;
    const json = JSON.parse((await memview('info', m.raw, '--map', m.iomem, '--json', '--vmcoreinfo', 'off')).stdout);
    const facts: string[] = [
      json.source.path,
      json.source.format,
      json.source.detectedBy,
      String(json.source.size),
      json.source.mtime,
      json.map.origin,
      String(json.map.ramBytes),
      ...json.map.ranges.flatMap((r: { start: string; end: string }) => [r.start, r.end]),
      ...json.views
        .filter((v: { name: string }) => v.name !== 'info.json')
        .flatMap((v: { name: string; size: number; notes?: string[] }) => [v.name, String(v.size), ...(v.notes ?? [])]),
      ...json.notes,
    ];
    for (const f of facts) expect(text, f).toContain(f);
  });

  it('a pipe as the source is refused with the reason, not "file is empty"', async () => {
    const r = await sh(`cat ${q(m.raw)} | ${q(process.execPath)} ${q(BIN)} info /dev/stdin --map ${q(m.iomem)}`);
    oneLine(r, 2, 'memview: /dev/stdin: is a FIFO (named pipe), not an image file; memview reads images at offsets: save it to a file first');
  });

  it('maps saved on Windows: CRLF, a UTF-8 byte-order mark, UTF-16 (PowerShell)', async () => {
    const crlf = iomemText(RANGES).replace(/\n/g, '\r\n');
    const saved: [string, Buffer][] = [
      ['bom.iomem', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(crlf)])],
      ['utf16le.iomem', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(crlf, 'utf16le')])],
      ['utf16be.iomem', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(crlf, 'utf16le').swap16()])],
    ];
    for (const [name, bytes] of saved) {
      const map = path.join(tmp, name);
      fs.writeFileSync(map, bytes);
      const r = await memview('info', m.raw, '--map', map, '--json', '--vmcoreinfo', 'off');
      expect(r.stderr, name).toBe('');
      const ranges = JSON.parse(r.stdout).map.ranges.map((x: { start: string; end: string }) => ({ start: Number(x.start), end: Number(x.end) }));
      expect(ranges, name).toEqual(RANGES);
    }
  });

  it('the image given as --map by mistake: one line, no attempt to read it all', async () => {
    const big = path.join(tmp, 'big.raw');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, 600 * 2 ** 20);
    oneLine(
      await memview('info', m.raw, '--map', big),
      2,
      `memview: ${big}: ${600 * 2 ** 20} bytes is too large for a memory map (/proc/iomem or a boot log, at most 256.0 MiB read); is this the image? (for a long syslog, give only the boot's lines)`,
    );
  });

  it('a mountpoint reached through a symlink stays mounted and unmounts by that name', async () => {
    const real = path.join(tmp, 'real-mnt');
    const link = path.join(tmp, 'link-mnt');
    fs.mkdirSync(real);
    fs.symlinkSync(real, link);
    const mt = await startMount(m.raw, link, ['--map', m.iomem, '--vmcoreinfo', 'off']);
    mounts.push(mt);
    await new Promise((r) => setTimeout(r, 1500)); // the mount process polls the mount table every 500 ms
    expect(mt.child.exitCode, mt.output()).toBeNull();
    expect((await run('cat', [path.join(link, 'iomem.txt')])).stdout).toBe(
      iomemText(RANGES)
        .split('\n')
        .filter((l) => / : System RAM$/.test(l))
        .join('\n') + '\n',
    );
    const r = await memview('umount', link);
    expect(r.stderr).toBe('');
    expect(await mt.stop()).toBe(0);
    expect(fs.readdirSync(real)).toEqual([]);
  });

  it('suggested commands quote paths with spaces: they work when pasted', async () => {
    const dir = path.join(tmp, 'mnt point');
    const r = await memview('mount', m.raw, dir, '--map', m.iomem);
    const suggestion = /create it with: (.*)$/.exec(r.stderr.trim())?.[1];
    expect(suggestion, r.stderr).toBeDefined();
    expect((await sh(suggestion!)).code).toBe(0);
    expect(fs.statSync(dir).isDirectory()).toBe(true);

    const mt = await startMount(m.raw, dir, ['--map', m.iomem, '--vmcoreinfo', 'off']);
    mounts.push(mt);
    // README.txt's MemProcFS line names the source by one shell word.
    const readme = (await run('cat', [path.join(dir, 'README.txt')])).stdout;
    const line = readme.split('\n').find((l) => l.includes('-memmap memprocfs.memmap'))!;
    const words = await sh(`set -- ${line.replace(/#.*$/, '')}; printf '%s\\n' "$@"`);
    expect(words.stdout.split('\n').slice(0, 3)).toEqual(['memprocfs', '-device', m.raw]);
    // The same bytes as the reference through the mount.
    expect((await run('sha256sum', [path.join(dir, 'raw.bin')])).stdout.split(' ')[0]).toBe(sha256(expectedRaw(RANGES, SALT)));
    // The banner's unmount command, pasted, unmounts and ends the mount process.
    const banner = /to unmount: Ctrl-C, or (.*)$/m.exec(mt.output())?.[1];
    expect(banner, mt.output()).toBeDefined();
    const pasted = await sh(banner!.replace(/^memview /, `${q(process.execPath)} ${q(BIN)} `));
    expect(pasted.stderr).toBe('');
    expect(await mt.stop()).toBe(0);
  });
});
