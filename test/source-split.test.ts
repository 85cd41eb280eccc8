/**
 * Split RAM dumps (FILE@ADDR[,FILE@ADDR...]): the files at their addresses,
 * in any order, relative to the current directory. Round trip: inside a
 * mount, `memview export "$(cat crash.args)"` (the mount's own ranges/*.bin
 * at their addresses) gives the mount's padded.raw byte for byte.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, memview, run, startMount, tempDir } from './helpers/cli';
import { expectedPadded, materialise, ramBytes, Range, writeMachine } from './helpers/machine';

const tmp = tempDir('memview-split-');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x7fffff },
  { start: 0x1000000, end: 0x13fffff },
];

describe('FILE@ADDR split RAM dumps', () => {
  it('inside a mount, export "$(cat crash.args)" --view padded.raw equals the mount\'s padded.raw', async () => {
    const m = writeMachine(path.join(tmp, 'machine'), RANGES);
    const dir = path.join(tmp, 'mnt');
    const mount = await startMount(m.raw, dir, ['--map', m.iomem]);
    try {
      const out = path.join(tmp, 'from-crash-args.padded');
      // crash.args names files relative to the mount: run where crash would, in the mount.
      const r = await run('sh', [
        '-c',
        'cd "$1" && exec "$2" "$3" export "$(cat crash.args)" --view padded.raw -o "$4"',
        'sh',
        dir,
        process.execPath,
        BIN,
        out,
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect((await run('cmp', [out, path.join(dir, 'padded.raw')])).code).toBe(0);
      expect(fs.readFileSync(out).equals(materialise(expectedPadded(RANGES)))).toBe(true);
    } finally {
      await mount.stop();
    }
  });

  it('order free, adjacent files merge into one range, info says what it found; --map replaces the ranges', async () => {
    const d = path.join(tmp, 'parts');
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'DDRCS1.BIN'), ramBytes(0x80100000, 0x100000));
    fs.writeFileSync(path.join(d, 'DDRCS0.BIN'), ramBytes(0x80000000, 0x100000));
    fs.writeFileSync(path.join(d, 'OCIMEM.BIN'), ramBytes(0x14680000, 0x40000));
    const spec = 'DDRCS1.BIN@0x80100000,OCIMEM.BIN@0x14680000,DDRCS0.BIN@2147483648';
    const info = await run('sh', ['-c', 'cd "$1" && exec "$2" "$3" info "$4" --json', 'sh', d, process.execPath, BIN, spec]);
    expect(info.code, info.stderr).toBe(0);
    const j = JSON.parse(info.stdout);
    expect(j.source.format).toBe('ramdump');
    expect(j.map.ranges.map((x: { start: string; end: string }) => `${x.start}-${x.end}`)).toEqual(['0x14680000-0x146bffff', '0x80000000-0x801fffff']);
    expect(j.notes.join('\n')).toMatch(/split RAM dump: 3 files at their addresses .*1 file continues the one before: 2 RAM ranges/s);
    const raw = path.join(tmp, 'split.raw');
    const abs = spec
      .split(',')
      .map((p) => path.join(d, p))
      .join(',');
    expect((await memview('export', abs, '--view', 'raw.bin', '-o', raw)).code).toBe(0);
    expect(fs.readFileSync(raw).equals(Buffer.concat([ramBytes(0x14680000, 0x40000), ramBytes(0x80000000, 0x100000), ramBytes(0x80100000, 0x100000)]))).toBe(
      true,
    );
    const map = path.join(tmp, 'ddr.iomem');
    fs.writeFileSync(map, '80000000-801fffff : System RAM\n');
    const withMap = JSON.parse((await memview('info', abs, '--map', map, '--json')).stdout);
    expect(withMap.map.ranges.map((x: { start: string }) => x.start)).toEqual(['0x80000000']);
    expect(withMap.notes.join('\n')).toMatch(/RAM ranges from .*ddr\.iomem replace the image's own 2/);
  });
});
