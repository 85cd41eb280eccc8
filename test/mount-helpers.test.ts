/**
 * The launch helpers in a mount: ranges/*.bin, crash.args, leechcore.lime,
 * memprocfs.memmap, README.txt; checked against reference writers and the
 * documented rules of LeechCore and Volatility 3.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSource } from '../src/sources/open';
import { buildViews } from '../src/views/index';
import { memview, tempDir } from './helpers/cli';
import { leechcoreLime, leechcoreMemmap, volatility3Lime } from './helpers/consumers';
import { physicalBytes, ramBytes, Range, rangeLength, writeMachine } from './helpers/machine';

// Unaligned end, an adjacent pair split at an unaligned byte (iomem-5 style), RAM above 4 GiB.
const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x4f3017 },
  { start: 0x4f3018, end: 0x7fffff },
  { start: 0x100000000, end: 0x1000fffff },
];
const tmp = tempDir('memview-helpers-');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function viewsOf(image: string, args: { map?: string } = {}) {
  const source = await openSource(image, args);
  try {
    const views = buildViews(source);
    const files = new Map<string, Buffer>();
    for (const v of views) {
      if (v.name === 'padded.raw') continue;
      const buf = Buffer.alloc(v.file.size);
      await v.file.read(buf, 0, buf.length);
      files.set(v.name, buf);
    }
    return { views, files };
  } finally {
    source.close();
  }
}

const m = writeMachine(path.join(tmp, 'src'), RANGES, 0x4d);
let rawViews: ReturnType<typeof viewsOf>;
const ofRaw = () => (rawViews ??= viewsOf(m.raw, { map: m.iomem }));
const hex8 = (n: number) => n.toString(16).padStart(8, '0');

describe('mount helpers of a raw image', () => {
  it('ranges/<start>-<end>.bin hold each RAM range exactly; crash.args lists them with their addresses', async () => {
    const { files } = await ofRaw();
    for (const r of RANGES) expect(files.get(`ranges/${hex8(r.start)}-${hex8(r.end)}.bin`)!.equals(ramBytes(r.start, rangeLength(r), m.salt))).toBe(true);
    expect(files.get('crash.args')!.toString()).toBe(
      RANGES.map((r) => `ranges/${hex8(r.start)}-${hex8(r.end)}.bin@0x${r.start.toString(16)}`).join(',') + '\n',
    );
  });

  it('leechcore.lime passes LeechCore and Volatility 3 LiME rules and serves the machine; memory.lime fails LeechCore (why it exists)', async () => {
    const { files } = await ofRaw();
    const lime = files.get('leechcore.lime')!;
    const segs = leechcoreLime(lime);
    expect(volatility3Lime(lime)).toEqual(segs);
    expect(segs.map((s) => [s.paddr, s.length])).toEqual([
      [0x1000, 0x9f000],
      [0x100000, 0x700000], // the pair split mid-page is one run of whole pages
      [0x100000000, 0x100000],
    ]);
    for (const s of segs) expect(lime.subarray(s.offset, s.offset + s.length).equals(physicalBytes(RANGES, s.paddr, s.length, m.salt))).toBe(true);
    expect(() => leechcoreLime(files.get('memory.lime')!)).toThrow(/Parse LiME header/);
    volatility3Lime(files.get('memory.lime')!);
  });

  it('memprocfs.memmap: LeechCore reading the raw source through it gets every whole RAM page right', async () => {
    const { files, views } = await ofRaw();
    const entries = leechcoreMemmap(files.get('memprocfs.memmap')!.toString());
    const raw = fs.readFileSync(m.raw);
    let covered = 0;
    for (const e of entries) {
      expect(raw.subarray(e.offset, e.offset + e.length).equals(physicalBytes(RANGES, e.paddr, e.length, m.salt)), `0x${e.paddr.toString(16)}`).toBe(true);
      covered += e.length;
    }
    // Only the partial pages are missing: 0x9f000-0x9fbff (3 KiB) at the unaligned end.
    expect(covered).toBe(RANGES.reduce((n, r) => n + rangeLength(r), 0) - 0xc00);
    expect(entries[0]).toMatchObject({ paddr: 0x1000, offset: 0 }); // offset 0 needs LeechCore's force flag
    expect(files.get('memprocfs.memmap')!.toString().split('\n')[0]).toBe('0x1000 0x9efff 0x8000000000000000');
    expect(views.find((v) => v.name === 'memprocfs.memmap')!.notes).toEqual(['3072 bytes in partial pages are left out (LeechCore maps whole pages only)']);
  });

  it('memprocfs.memmap of a LiME source points LeechCore at the data after each header', async () => {
    const lime = path.join(tmp, 'as.lime');
    expect((await memview('export', m.raw, '--map', m.iomem, '--view', 'memory.lime', '-o', lime)).code).toBe(0);
    const { files } = await viewsOf(lime);
    const limeBytes = fs.readFileSync(lime);
    const entries = leechcoreMemmap(files.get('memprocfs.memmap')!.toString());
    expect(entries.length).toBeGreaterThanOrEqual(3);
    for (const e of entries) expect(limeBytes.subarray(e.offset, e.offset + e.length).equals(physicalBytes(RANGES, e.paddr, e.length, m.salt))).toBe(true);
  });

  it('README.txt names a file and a command line for each tool', async () => {
    const { files } = await ofRaw();
    const readme = files.get('README.txt')!.toString();
    for (const line of [
      'vol -f memory.elf',
      'crash /path/to/vmlinux $(cat crash.args)',
      'memprocfs -device memory.elf',
      `-device ${path.resolve(m.raw)} -memmap memprocfs.memmap`,
    ]) {
      expect(readme).toContain(line);
    }
    expect(readme).toContain('Kernel: no usable VMCOREINFO note'); // not scanned in process: said plainly
  });
});
