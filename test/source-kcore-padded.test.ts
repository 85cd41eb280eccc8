import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memview, run, startMount, tempDir } from './helpers/cli';
import { expectedPadded, iomemText, ramBytes, Range, rangeLength, writeChunks } from './helpers/machine';
import { kernelMachine, kernelPhysical, vmcoreinfoNoteBytes } from './helpers/kernel';
import { KCORE_LA57, saltedRam, writeKcoreFile } from './helpers/source-writers';
import { expectSameBytes, open } from './support/views';

const tmp = tempDir('memview-kcore-');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SALT = 0x4b43;
/** iomem of the machine: ends and starts mid-page, a split at an unaligned byte, RAM above 4 GiB. */
const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x2f3017 },
  { start: 0x2f3018, end: 0x1ffffff },
  { start: 0x100000000, end: 0x1000fffff },
];
const TiB = 2 ** 40;

/** What kcore can serve of range `r`: RAM bytes inside its page-granular runs, zeros in the partial pages it has not. */
function kcoreServed(ramRuns: Range[], r: Range): Buffer {
  const out = Buffer.alloc(rangeLength(r));
  for (const run of ramRuns) {
    const from = Math.max(r.start, run.start);
    const to = Math.min(r.end, run.end);
    if (from <= to) ramBytes(from, to - from + 1, SALT).copy(out, from - r.start);
  }
  return out;
}

describe('kcore-layout source (--format kcore --map iomem)', () => {
  const kcore = writeKcoreFile(path.join(tmp, 'kcore'), RANGES, saltedRam(SALT));
  const iomem = path.join(tmp, 'iomem');
  fs.writeFileSync(iomem, iomemText(RANGES));

  const expectedRange = (r: Range) => kcoreServed(kcore.ramRuns, r);

  it('is a sparse multi-TiB file with the kcore headers and notes (readelf agrees)', async () => {
    const st = fs.statSync(kcore.file);
    expect(st.size).toBeGreaterThan(4 * TiB);
    expect(st.blocks * 512).toBeLessThan(64 * 2 ** 20);
    const r = await run('readelf', ['-l', '-n', '-W', kcore.file]);
    expect(r.code).toBe(0);
    expect(r.stdout.match(/^\s+LOAD\s/gm)).toHaveLength(3 + kcore.ramRuns.length);
    expect(r.stdout).toMatch(/NT_TASKSTRUCT/);
    expect(r.stdout).toMatch(/VMCOREINFO/);
  });

  it('is detected by its NT_TASKSTRUCT note and serves each System RAM range from the covering PT_LOADs', async () => {
    const src = await open(kcore.file, { map: iomem });
    try {
      expect(src.source.format).toBe('kcore');
      expect(src.source.detectedBy).toMatch(/NT_TASKSTRUCT/);
      expect(src.source.ranges).toEqual(RANGES.map((r) => ({ start: r.start, length: rangeLength(r) })));
      const notes = src.source.notes.join('\n');
      expect(notes).toMatch(/skipped 2 PT_LOADs with p_paddr -1/);
      expect(notes).toMatch(/PT_LOAD #1 \(kernel image at vaddr 0xffffffff81000000\) aliases RAM/);
      expect(notes).toMatch(/VMCOREINFO note: kernel 6\.1\.0-test/);
      // Partial pages at range edges are in no KCORE_RAM entry: reported, served as zeros.
      expect(notes).toMatch(/System RAM 0x9f000-0x9fbff \(0xc00 bytes\) is in no kcore PT_LOAD: served as zeros/);
      expect(notes).toMatch(/System RAM 0x2f3000-0x2f3017 \(0x18 bytes\) is in no kcore PT_LOAD/);
      expect(notes).toMatch(/System RAM 0x2f3018-0x2f3fff \(0xfe8 bytes\) is in no kcore PT_LOAD/);
      expectSameBytes(await src.read('raw.bin'), RANGES.map(expectedRange), 'raw.bin');
      // The kernel text alias (0xee bytes in the file) never shows: RAM wins.
      const padded = src.views.find((v) => v.name === 'padded.raw')!;
      const text = Buffer.alloc(0x10000);
      await padded.file.read(text, 0x1000000, text.length);
      expectSameBytes(text, ramBytes(0x1000000, 0x10000, SALT), 'RAM at the kernel text address');
    } finally {
      src.close();
    }
  });

  it('without a map serves the page-granular RAM runs', async () => {
    const src = await open(kcore.file, { format: 'kcore' });
    try {
      expect(src.source.ranges).toEqual([
        { start: 0x1000, length: 0x9e000 },
        { start: 0x100000, length: 0x1f3000 },
        { start: 0x2f4000, length: 0x2000000 - 0x2f4000 },
        { start: 0x100000000, length: 0x100000 },
      ]);
    } finally {
      src.close();
    }
  });

  it('memview info through the CLI', async () => {
    const r = await memview('info', kcore.file, '--map', iomem);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/format\s+kcore \(ELF core with a CORE\/NT_TASKSTRUCT note: the \/proc\/kcore layout\)/);
    expect(r.stdout).toMatch(/map\s+.*iomem, matched to kcore PT_LOADs: 4 RAM ranges/);
  });
});

// tmpfs holds sparse files up to 2^63 bytes; ext4 stops at 16 TiB.
const SHM = '/dev/shm';
const tmpfs = fs.existsSync(SHM) && fs.readFileSync('/proc/self/mounts', 'utf8').includes(` ${SHM} tmpfs `);

describe.skipIf(!tmpfs)('kcore under 5-level paging: RAM p_offsets past 2^53 (a sparse file on tmpfs)', () => {
  const dir = fs.mkdtempSync(path.join(SHM, 'memview-la57-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const kcore = writeKcoreFile(path.join(dir, 'kcore'), RANGES, saltedRam(SALT), 0x1000000, 'OSRELEASE=6.1.0-test\nPAGESIZE=4096\n', KCORE_LA57);
  const iomem = path.join(dir, 'iomem');
  fs.writeFileSync(iomem, iomemText(RANGES));
  const expected = () => Buffer.concat(RANGES.map((r) => kcoreServed(kcore.ramRuns, r)));

  it('the file is what a 5-level guest had (readelf agrees): RAM past 2^53, the kernel text near 2^56', async () => {
    expect(BigInt(kcore.size)).toBeGreaterThan(1n << 55n);
    const r = await run('readelf', ['-l', '-W', kcore.file]);
    expect(r.code).toBe(0);
    const offsets = [...r.stdout.matchAll(/^\s+LOAD\s+0x([0-9a-f]+)/gm)].map((m) => BigInt('0x' + m[1]));
    expect(offsets.filter((o) => o > BigInt(Number.MAX_SAFE_INTEGER))).toHaveLength(offsets.length);
  });

  it('serves every System RAM byte, read with 64-bit offsets; the text alias is noted, not read', async () => {
    const src = await open(kcore.file, { map: iomem });
    try {
      expect(src.source.format).toBe('kcore');
      const notes = src.source.notes.join('\n');
      expect(notes).toMatch(/RAM segments' data starts at file offset 0x2f3c4e0000[0-9a-f]{4}, past 2\^53 \(5-level paging\): read with 64-bit offsets/);
      expect(notes).toMatch(/PT_LOAD #1 \(p_paddr 0x1000000\): kernel image at p_offset 0xeeffff81\w+, past 2\^53: not read/);
      expectSameBytes(await src.read('raw.bin'), [expected()], 'raw.bin');
    } finally {
      src.close();
    }
  });

  it('through a FUSE mount (read by cmp in a child process)', async () => {
    const ref = path.join(dir, 'raw.ref');
    fs.writeFileSync(ref, expected());
    const m = await startMount(kcore.file, path.join(dir, 'mnt'), ['--map', iomem, '--vmcoreinfo', 'off']);
    try {
      expect(await run('cmp', [path.join(m.dir, 'raw.bin'), ref])).toMatchObject({ code: 0, stderr: '' });
    } finally {
      await m.stop();
    }
  });
});

describe("kcore's own VMCOREINFO (PT_NOTE, Linux 4.19+) is used, not a copy found in RAM", () => {
  // RAM holds no current note, only a stale copy from another boot in the first window a scan reads.
  const km = kernelMachine({ notePhys: null });
  const stale = { phys: 0x980000, data: vmcoreinfoNoteBytes('OSRELEASE=5.10.0-old\nPAGESIZE=4096\n') };
  const file = path.join(tmp, 'kcore-own-note');
  writeKcoreFile(file, km.ranges, (s, l) => kernelPhysical(km, s, l, [stale]), 0x400000, km.noteText);
  const iomem = path.join(tmp, 'iomem-own-note');
  fs.writeFileSync(iomem, iomemText(km.ranges));

  it("chooses the kernel's own note without reading RAM; vmcore is served", async () => {
    const r = await memview('info', '--json', '--map', iomem, file);
    expect(r.stderr).toBe('');
    const info = JSON.parse(r.stdout);
    expect(info.kernel.chosen.origin).toBe(`${file} PT_NOTE`);
    expect(info.kernel.chosen.osrelease).toBe('6.1.0-13-amd64');
    expect(info.kernel.chosen.problems).toEqual([]);
    expect(info.kernel.scannedBytes).toBe(0);
    expect(info.views.map((v: { name: string }) => v.name)).toContain('vmcore');
  });
});

describe('padded source', () => {
  const ranges: Range[] = [
    { start: 0x1000, end: 0x9fbff },
    { start: 0x100000, end: 0x2fffff },
  ];
  const file = path.join(tmp, 'padded.raw');
  writeChunks(file, expectedPadded(ranges, SALT));
  const map = path.join(tmp, 'padded.iomem');
  fs.writeFileSync(map, iomemText(ranges));

  it('with a map: file offset = physical address, only RAM is served', async () => {
    const src = await open(file, { map });
    try {
      expect(src.source.format).toBe('padded');
      expectSameBytes(
        await src.read('raw.bin'),
        ranges.map((r) => ramBytes(r.start, rangeLength(r), SALT)),
        'raw.bin',
      );
      expectSameBytes(await src.read('padded.raw'), fs.readFileSync(file), 'padded.raw');
    } finally {
      src.close();
    }
  });

  it('without a map (--format padded): one range over the whole file', async () => {
    const src = await open(file, { format: 'padded' });
    try {
      expect(src.source.ranges).toEqual([{ start: 0, length: 0x300000 }]);
      expectSameBytes(await src.read('padded.raw'), fs.readFileSync(file), 'padded.raw');
    } finally {
      src.close();
    }
  });

  it('a map that ends past the file is an error naming both', async () => {
    const big = path.join(tmp, 'big.iomem');
    fs.writeFileSync(big, iomemText([...ranges, { start: 0x400000, end: 0x4fffff }]));
    const r = await memview('info', file, '--map', big, '--format', 'padded');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^memview: .*padded\.raw: padded image is 3145728 bytes but the map's RAM range 0x400000-0x4fffff ends at 0x500000; wrong map, or a truncated image\?\n$/,
    );
  });

  it('--holes without a map: sparse holes and zero runs of 1 MiB or more are holes, shorter zero runs stay RAM', async () => {
    const f = path.join(tmp, 'holes.raw');
    const fd = fs.openSync(f, 'w');
    const put = (at: number, b: Buffer) => fs.writeSync(fd, b, 0, b.length, at);
    put(0x100000, ramBytes(0x100000, 0x200000, SALT));
    put(0x300000, Buffer.alloc(0x200000)); // 2 MiB of written zeros: a hole
    put(0x500000, ramBytes(0x500000, 0x100000, SALT));
    put(0x600000, Buffer.alloc(0x10000)); // 64 KiB of written zeros: stays RAM
    put(0x610000, ramBytes(0x610000, 0xf0000, SALT));
    put(0x10000000, ramBytes(0x10000000, 0x100000, SALT)); // after a 249 MiB sparse hole
    fs.closeSync(fd);
    const src = await open(f, { holes: true });
    try {
      expect(src.source.format).toBe('padded');
      expect(src.source.ranges).toEqual([
        { start: 0x100000, length: 0x200000 },
        { start: 0x500000, length: 0x200000 },
        { start: 0x10000000, length: 0x100000 },
      ]);
      const note = /(\d+) bytes in sparse-file holes not read, (\d+) bytes read as all-zero pages/.exec(src.source.notes.join('\n'));
      expect(note).not.toBeNull();
      expect(Number(note![1])).toBeGreaterThan(200 * 2 ** 20); // SEEK_HOLE skipped the big hole
      expectSameBytes(
        await src.read('raw.bin'),
        [
          ramBytes(0x100000, 0x200000, SALT),
          ramBytes(0x500000, 0x100000, SALT),
          { zeros: 0x10000 },
          ramBytes(0x610000, 0xf0000, SALT),
          ramBytes(0x10000000, 0x100000, SALT),
        ],
        'raw.bin',
      );
    } finally {
      src.close();
    }
  });
});

describe('live /proc/kcore', () => {
  it.skipIf(fs.existsSync('/proc/kcore'))('where it cannot be opened: exit 2 and what it takes', async () => {
    const r = await memview('info', '/proc/kcore');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^memview: \/proc\/kcore: no such file; reading the live kernel's memory needs root \(CAP_SYS_RAWIO\), a kernel with \/proc\/kcore \(CONFIG_PROC_KCORE\) and no kernel lockdown\n$/,
    );
  });
});
