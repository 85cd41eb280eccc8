/**
 * Inputs are opened like evidence (issue 11, cases 4 and 7): map and log
 * files keep their access time, as the source does; FIFOs and devices given
 * as inputs are refused at once instead of blocking or growing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memview, run, tempDir } from './helpers/cli';
import { Range, writeMachine } from './helpers/machine';
import { bootMessages, dmesgText, EDITS, FIRMWARE } from './helpers/boot-log';

const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x4fffff },
];

/** An access time two days old and a modification time three days old: relatime would update it on a read. */
function ageFile(file: string): number {
  const now = Date.now() / 1000;
  fs.utimesSync(file, now - 2 * 86400, now - 3 * 86400);
  return fs.statSync(file).atimeMs;
}

describe('map and log inputs keep their access time (O_NOATIME, like the source)', () => {
  const tmp = tempDir('memview-atime-');
  const m = writeMachine(path.join(tmp, 'machine'), RANGES);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('the file system updates atime on a plain read (so the checks below can fail)', async () => {
    const probe = path.join(tmp, 'probe');
    fs.writeFileSync(probe, 'x');
    const before = ageFile(probe);
    await run('cat', [probe]);
    expect(fs.statSync(probe).atimeMs).not.toBe(before);
  });

  it('info --map iomem and export --map: the map and the source keep their atime', async () => {
    const atimes = [ageFile(m.iomem), ageFile(m.raw)];
    expect((await memview('info', m.raw, '--map', m.iomem)).code).toBe(0);
    expect((await memview('export', m.raw, '--map', m.iomem, '--view', 'padded', '-o', path.join(tmp, 'out.padded'))).code).toBe(0);
    expect([fs.statSync(m.iomem).atimeMs, fs.statSync(m.raw).atimeMs]).toEqual(atimes);
  });

  it('the source given as --map by mistake: refused, its atime unchanged', async () => {
    const before = ageFile(m.raw);
    const r = await memview('info', m.raw, '--map', m.raw);
    expect(r.code).toBe(2);
    expect(fs.statSync(m.raw).atimeMs).toBe(before);
  });

  it('memview map --iomem FILE --dmesg LOG: both keep their atime', async () => {
    const log = path.join(tmp, 'boot.log');
    fs.writeFileSync(log, dmesgText(bootMessages('4.12', FIRMWARE, EDITS)));
    const atimes = [ageFile(m.iomem), ageFile(log), ageFile(m.raw)];
    const r = await memview('map', m.raw, '--iomem', m.iomem, '--dmesg', log);
    expect(r.code, r.stderr).toBe(0);
    expect([fs.statSync(m.iomem).atimeMs, fs.statSync(log).atimeMs, fs.statSync(m.raw).atimeMs]).toEqual(atimes);
  });

  it('--holes (SEEK_DATA/SEEK_HOLE by a helper process): the source keeps its atime', async () => {
    const padded = path.join(tmp, 'holes.padded');
    fs.writeFileSync(padded, Buffer.alloc(0x1000, 0x41));
    fs.truncateSync(padded, 0x400000);
    const before = ageFile(padded);
    const r = await memview('info', padded, '--holes');
    expect(r.code, r.stderr).toBe(0);
    expect(fs.statSync(padded).atimeMs).toBe(before);
  });
});

describe('inputs that block or never end are refused at once', () => {
  const tmp = tempDir('memview-block-');
  const m = writeMachine(path.join(tmp, 'machine'), RANGES);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a FIFO with a writer that never stops, as source and as --map: exit 2 within seconds', async () => {
    const fifo = path.join(tmp, 'endless.fifo');
    expect((await run('mkfifo', [fifo])).code).toBe(0);
    // A writer holds the FIFO open (yes never ends); memview must not read it.
    const writer = run('timeout', ['20', 'sh', '-c', 'yes > "$1"', 'sh', fifo], { timeoutMs: 30_000 });
    const t0 = Date.now();
    const asSource = await run(process.execPath, [path.join(__dirname, '..', 'bin', 'memview'), 'info', fifo], { timeoutMs: 15_000 });
    const asMap = await memview('info', m.raw, '--map', fifo);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(asSource.code, asSource.stderr).toBe(2);
    expect(asMap.code, asMap.stderr).toBe(2);
    expect(asMap.stderr).toBe(
      `memview: ${fifo}: is a FIFO (named pipe), not a map file; save the map to a regular file first (e.g. cat /proc/iomem > iomem.txt)\n`,
    );
    // Let the writer go (if memview's opens did not already): read once so `yes` gets EPIPE and ends.
    await run('timeout', ['2', 'head', '-c', '1', fifo]);
    await writer;
  });
});
