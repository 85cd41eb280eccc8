import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootMessages, dmesgText, EDITS, FINAL, FIRMWARE } from './helpers/boot-log';
import { expectedPadded, materialise, writeMachine } from './helpers/machine';

const BIN = path.join(__dirname, '..', 'bin', 'memview');

function memview(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
let machine: ReturnType<typeof writeMachine>;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memview-mapfile-'));
  machine = writeMachine(path.join(dir, 'm'), FINAL, 0x77);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('--map FILE accepts a boot log as well as /proc/iomem', () => {
  for (const era of ['pre-3.5', '3.5', '4.12', '7.0'] as const) {
    it(`dmesg in the ${era} wording: export padded equals the reference`, async () => {
      const log = path.join(dir, `boot-${era}.dmesg`);
      fs.writeFileSync(log, dmesgText(bootMessages(era, FIRMWARE, EDITS)));
      const out = path.join(dir, `padded-${era}.raw`);
      const r = await memview(['export', machine.raw, '--map', log, '--view', 'padded', '-o', out]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(fs.readFileSync(out).equals(materialise(expectedPadded(FINAL, 0x77)))).toBe(true);
    });
  }

  it('info names the log lines the map came from', async () => {
    const log = path.join(dir, 'boot.log');
    fs.writeFileSync(log, dmesgText(bootMessages('4.12', FIRMWARE, EDITS)));
    const r = await memview(['info', machine.raw, '--map', log, '--json']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.map.origin).toMatch(/boot\.log lines 3-\d+ \(boot log e820 map, 2 edits replayed\)/);
    expect(info.map.ranges.map((x: { start: string; end: string }) => `${x.start}-${x.end}`)).toEqual([
      '0x1000-0x9fbff',
      '0x100000-0x4fffff',
      '0x800000-0x8fffff',
    ]);
  });

  it('a log with two boots: the boot whose RAM total equals the image size is used', async () => {
    const bigger = FIRMWARE.map((e) => (e.start === 0x800000 ? { ...e, end: 0x9fffff } : e));
    const log = path.join(dir, 'two-boots.log');
    fs.writeFileSync(
      log,
      dmesgText([...bootMessages('4.12', bigger, EDITS), ...bootMessages('4.12', FIRMWARE, EDITS), ...bootMessages('4.12', bigger, EDITS)]),
    );
    const r = await memview(['info', machine.raw, '--map', log, '--json']);
    expect(r.stderr).toBe('');
    const info = JSON.parse(r.stdout);
    expect(info.map.ranges[2].end).toBe('0x8fffff');
    expect(info.notes.join(' ')).toMatch(/2 different maps; used the one that fits the image size/);
  });

  it('contradictory boots, none matching the image: exit 2 with the candidate list', async () => {
    const log = path.join(dir, 'contradictory.log');
    const a = FIRMWARE.map((e) => (e.start === 0x800000 ? { ...e, end: 0x9fffff } : e));
    const b = FIRMWARE.map((e) => (e.start === 0x800000 ? { ...e, end: 0xafffff } : e));
    fs.writeFileSync(log, dmesgText([...bootMessages('4.12', a, EDITS), ...bootMessages('4.12', b, EDITS)]));
    const r = await memview(['info', machine.raw, '--map', log]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/contradictory\.log: 2 different maps and none matches the image size \d+: .*lines 3-\d+: 3 ranges/);
  });

  it('a log without e820 lines: exit 2, says what it looked for', async () => {
    const r = await memview(['info', machine.raw, '--map', path.join(__dirname, '..', 'fixtures', 'maps', 'dmesg', 'no-e820.dmesg')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no-e820\.dmesg: neither \/proc\/iomem text nor a boot log with an e820 map/);
  });

  it('/proc/iomem still works, detected by content', async () => {
    const r = await memview(['info', machine.raw, '--map', machine.iomem, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).map.origin).toBe(machine.iomem);
  });
});
