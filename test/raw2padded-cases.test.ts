/**
 * Each way raw2padded (the tool this replaces) gets a raw image wrong
 * (formats.md 1.1), as a case memview now gets right.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSource } from '../src/io/file-source';
import { findNeedles } from '../src/mapfind/scan-image';
import { bootMessages, dmesgText, E820Line, EditLine, oldLogBuf, printkLogRecords, ringbufferBlocks } from './helpers/boot-log';
import { memview, run, RunningMount, startMount, tempDir } from './helpers/cli';
import { Patch } from './helpers/kernel';
import { EARLIER_FIRMWARE, EDITS, FIRMWARE, logMachine, messages } from './helpers/log-machine';
import { Range, rangeLength } from './helpers/machine';

const tmp = tempDir('memview-r2p-');
const mounts: RunningMount[] = [];
afterAll(async () => {
  for (const m of mounts) await m.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const log = (phys: number, data: Buffer): Patch => ({ phys, data });
const rangesOf = (info: { map: { ranges: { start: string; end: string }[] } }) => info.map.ranges.map((r) => `${r.start}-${r.end}`);

async function mountAndCompare(img: { raw: string; reference: string }, name: string): Promise<RunningMount> {
  const m = await startMount(img.raw, path.join(tmp, name));
  mounts.push(m);
  const cmp = await run('cmp', [path.join(m.dir, 'padded.raw'), img.reference]);
  expect(cmp.stdout + cmp.stderr).toBe('');
  expect(cmp.code).toBe(0);
  return m;
}

describe('raw2padded failure cases', () => {
  it('a RAM range over 1 GiB is served whole (raw2padded stops writing after the first 1 GiB piece)', async () => {
    // Sparse raw image: 1.25 GiB range; the boot log, and markers at 1 GiB + 1 MiB and at the very end.
    const ranges: Range[] = [
      { start: 0x1000, end: 0x9fbff },
      { start: 0x100000, end: 0x500fffff },
    ];
    const fw: E820Line[] = [
      { start: 0, end: 0x9fbff, type: 'usable' },
      { start: 0x9fc00, end: 0x9ffff, type: 'reserved' },
      { start: 0x100000, end: 0x500fffff, type: 'usable' },
    ];
    const raw = path.join(tmp, 'big.raw');
    const fd = fs.openSync(raw, 'w');
    const rawOffset = (phys: number) => rangeLength(ranges[0]) + (phys - 0x100000);
    const logBytes = ringbufferBlocks(bootMessages('4.12', fw, [EDITS[0], EDITS[1]]));
    fs.writeSync(fd, logBytes, 0, logBytes.length, rawOffset(0x200000));
    const mid = Buffer.from('beyond the first GiB');
    const end = Buffer.from('last bytes of RAM');
    fs.writeSync(fd, mid, 0, mid.length, rawOffset(0x40100000));
    fs.writeSync(fd, end, 0, end.length, rawOffset(0x50100000 - end.length));
    fs.ftruncateSync(fd, rangeLength(ranges[0]) + rangeLength(ranges[1]));
    fs.closeSync(fd);
    const m = await startMount(raw, path.join(tmp, 'big'));
    mounts.push(m);
    const padded = path.join(m.dir, 'padded.raw');
    expect(fs.statSync(padded).size).toBe(0x50100000);
    const at = async (offset: number, length: number) =>
      (await run('dd', [`if=${padded}`, 'bs=4096', `skip=${Math.floor(offset / 4096)}`, 'count=1', 'status=none'], { encoding: 'latin1' })).stdout.slice(
        offset % 4096,
        (offset % 4096) + length,
      );
    expect(await at(0x40100000, mid.length)).toBe(mid.toString());
    expect(await at(0x50100000 - end.length, end.length)).toBe(end.toString());
  });

  it('a 64 KiB first reservation in a <= 3.4 log (raw2padded assumes 4 KiB and shifts everything by 0xf000)', async () => {
    const ranges: Range[] = [
      { start: 0x10000, end: 0x9fbff },
      { start: 0x100000, end: 0x1ffffff },
      { start: 0x2400000, end: 0x25fffff },
    ];
    const edits: EditLine[] = [{ kind: 'update', start: 0, end: 0xffff, from: 'usable', to: 'reserved' }, EDITS[1]];
    const img = logMachine(tmp, [log(0x300000, oldLogBuf(messages('pre-3.5', FIRMWARE, edits)))], { ranges });
    const m = await mountAndCompare(img, 'low64k');
    const info = JSON.parse(fs.readFileSync(path.join(m.dir, 'info.json'), 'utf8'));
    expect(rangesOf(info)).toEqual(['0x10000-0x9fbff', '0x100000-0x1ffffff', '0x2400000-0x25fffff']);
  });

  it('update and remove edits are replayed (raw2padded uses the firmware map as is)', async () => {
    // The BIOS reports 0-32 MiB as one usable entry; the kernel reserves page 0 and removes 0xa0000-0xfffff.
    const fw: E820Line[] = [
      { start: 0, end: 0x1ffffff, type: 'usable' },
      { start: 0x2000000, end: 0x23fffff, type: 'ACPI NVS' },
      { start: 0x2400000, end: 0x25fffff, type: 'usable' },
    ];
    const ranges: Range[] = [
      { start: 0x1000, end: 0x9ffff },
      { start: 0x100000, end: 0x1ffffff },
      { start: 0x2400000, end: 0x25fffff },
    ];
    const img = logMachine(tmp, [log(0x300000, printkLogRecords(messages('3.5', fw, [EDITS[0], EDITS[1]])))], { ranges });
    const m = await mountAndCompare(img, 'edits');
    const info = JSON.parse(fs.readFileSync(path.join(m.dir, 'info.json'), 'utf8'));
    expect(rangesOf(info)).toEqual(['0x1000-0x9ffff', '0x100000-0x1ffffff', '0x2400000-0x25fffff']);
  });

  it('the same map twice in the image is one candidate seen twice (raw2padded: "duplicate maps break it")', async () => {
    const img = logMachine(tmp, [log(0x300000, ringbufferBlocks(messages('4.12'))), log(0x2410000, Buffer.from(dmesgText(messages('4.12'))))]);
    const rep = JSON.parse((await memview('map', img.raw, '--json')).stdout);
    expect(rep.candidates).toHaveLength(1);
    expect(rep.candidates[0].form).toBe('printk_ringbuffer');
    expect(rep.candidates[0].alsoAt).toHaveLength(1);
    expect(rep.candidates[0].alsoAt[0]).toMatch(/\(text log\)$/);
    expect(rep.confidence).toBe('high');
  });

  it("records separated by binary headers, types with digits and parentheses (raw2padded's greedy regex skips entries)", async () => {
    const fw: E820Line[] = [...FIRMWARE.slice(0, 4), { start: 0x2000000, end: 0x23fffff, type: 'persistent (type 12)' }, ...FIRMWARE.slice(5)];
    const img = logMachine(tmp, [log(0x300000, printkLogRecords(messages('4.12', fw), { align: 4, callerId: true }))]);
    const rep = JSON.parse((await memview('map', img.raw, '--json')).stdout);
    expect(rep.candidates).toHaveLength(1);
    expect(rep.candidates[0].details[0]).toBe(`kernel >= 3.5 e820 format, ${fw.length} firmware entries`);
    expect(rep.candidates[0].fit).toBe('exact');
  });

  it('a map straddling a read-chunk boundary is found (raw2padded misses matches across its 1 KiB reads)', async () => {
    const bytes = ringbufferBlocks(messages('4.12'));
    const needleAt = bytes.indexOf('BIOS-provided physical RAM map:');
    // The scanner reads 2 MiB chunks: put the header 10 bytes before the end of the first one.
    const rawOffset = 2 * 1024 * 1024 - 10;
    const phys = 0x100000 + (rawOffset - 0x9ec00) - needleAt; // raw offset -> physical in the second range
    const img = logMachine(tmp, [log(phys, bytes)]);
    const image = FileSource.open(img.raw);
    try {
      // SIMD and Buffer.indexOf searches, with the boundary at the header and elsewhere.
      for (const simd of [false, true]) {
        for (const chunk of [2 * 1024 * 1024, 1024 * 1024 + 7]) {
          const hits = await findNeedles(image, chunk, simd);
          expect(hits.log).toEqual([rawOffset]);
          expect(hits.vmcoreinfo).toHaveLength(1);
        }
      }
    } finally {
      image.close();
    }
    const rep = JSON.parse((await memview('map', img.raw, '--json')).stdout);
    expect(rep.confidence).toBe('high');
  });

  it('a boot log from an earlier boot that does not match the image size is not used', async () => {
    const img = logMachine(tmp, [
      log(0x300000, Buffer.from(dmesgText(messages('4.12', EARLIER_FIRMWARE)))),
      log(0x2410000, ringbufferBlocks(messages('4.12'))),
    ]);
    const rep = JSON.parse((await memview('map', img.raw, '--json')).stdout);
    expect(rep.candidates.map((c: { fit: string }) => c.fit)).toEqual(['exact', 'none']);
    expect(rep.chosen).toBe(0);
    expect(rep.candidates[0].form).toBe('printk_ringbuffer');
  });
});
