/**
 * Every acquisition of every booted layout against the guest's own ground
 * truth: its /proc/iomem, and QEMU's ELF dump of the paused guest.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { memview } from '../helpers/cli';
import { layoutsFromEnv, LIME_NAMES } from './layouts';
import { Boot, boots, fmt, iomemEntries, inflateLime, limeRecords, readCore, readPhysical, Span, systemRam } from './truth';

interface InfoJson {
  map: { origin: string; ranges: { start: string; end: string }[] };
  views: { name: string; size: number }[];
  notes: string[];
}

const spansOf = (info: InfoJson): Span[] => info.map.ranges.map((r) => ({ start: parseInt(r.start, 16), end: parseInt(r.end, 16) }));

async function info(...args: string[]): Promise<InfoJson> {
  const r = await memview('info', '--json', ...args);
  if (r.code !== 0) throw new Error(`memview info ${args.join(' ')}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout);
}

/** Offset of each physical byte in a raw image of `spans` (RAM ranges back to back). */
function rawOffset(spans: Span[], phys: number): number {
  let off = 0;
  for (const s of spans) {
    if (phys >= s.start && phys <= s.end) return off + phys - s.start;
    off += s.end - s.start + 1;
  }
  throw new Error(`physical 0x${phys.toString(16)} is not in the raw image's RAM`);
}

function readAt(file: string, pos: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(length);
    fs.readSync(fd, b, 0, length, pos);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

/** How many 4 KiB pages of [span] two readers agree on. */
function samePages(
  span: Span,
  a: (phys: number, n: number) => Buffer,
  b: (phys: number, n: number) => Buffer,
): { pages: number; same: number; first?: string; mostBytesDiffering: number } {
  let pages = 0;
  let same = 0;
  let first: string | undefined;
  let mostBytesDiffering = 0;
  for (let p = span.start; p <= span.end; p += 4096) {
    const n = Math.min(4096, span.end + 1 - p);
    pages++;
    const x = a(p, n);
    const y = b(p, n);
    if (x.equals(y)) {
      same++;
      continue;
    }
    first ??= `0x${p.toString(16)}`;
    let differing = 0;
    for (let i = 0; i < n; i++) if (x[i] !== y[i]) differing++;
    mostBytesDiffering = Math.max(mostBytesDiffering, differing);
  }
  return { pages, same, first, mostBytesDiffering };
}

for (const boot of boots(layoutsFromEnv())) {
  describe(`${boot.layout.name}: ${boot.layout.about}`, () => {
    let ram: Span[];
    let kernelCode: Span;
    const qemuElf = boot.file('qemu.elf');
    beforeAll(() => {
      ram = systemRam(boot.text('iomem.txt'));
      kernelCode = iomemEntries(boot.text('iomem.txt'), 'Kernel code', true)[0];
    });

    it('the guest saw the layout asked for (iomem System RAM, and the dmesg of that boot)', () => {
      expect(ram.length).toBeGreaterThan(0);
      expect(boot.text('dmesg.txt')).toContain('BIOS-provided physical RAM map');
      for (const arg of boot.layout.append) expect(boot.text('dmesg.txt')).toContain(arg);
    });

    it("QEMU's ELF holds all of the guest's System RAM", () => {
      const core = readCore(qemuElf);
      for (const r of ram) {
        expect(
          core.loads.some((l) => l.paddr <= r.start && r.end < l.paddr + l.length),
          fmt([r])[0],
        ).toBe(true);
      }
      expect(core.vmcoreinfo.get('OSRELEASE')).toBe(boot.text('uname-r.txt').trim());
    });

    it("LiME format=lime: its records and memview's ranges are the guest's System RAM exactly", async () => {
      expect(fmt(limeRecords(boot.file('lime.lime')))).toEqual(fmt(ram));
      expect(fmt(spansOf(await info(boot.file('lime.lime'))))).toEqual(fmt(ram));
    });

    it.skipIf(!(boot.layout.lime ?? LIME_NAMES).includes('lime-z'))(
      "LiME format=lime compress=1: the zlib stream inflates to records of the guest's System RAM",
      () => {
        expect(fmt(limeRecords(inflateLime(boot.file('lime-z.lime'))))).toEqual(fmt(ram));
      },
    );

    it.skipIf(!(boot.layout.lime ?? LIME_NAMES).includes('lime-z'))("LiME compress=1: memview's ranges are the guest's System RAM exactly", async () => {
      expect(fmt(spansOf(await info('--vmcoreinfo', 'off', boot.file('lime-z.lime'))))).toEqual(fmt(ram));
    });

    it('LiME format=raw: its size is the System RAM total; memview --map iomem serves those ranges', async () => {
      const total = ram.reduce((n, r) => n + r.end - r.start + 1, 0);
      expect(fs.statSync(boot.file('raw.raw')).size).toBe(total);
      expect(fmt(spansOf(await info('--map', boot.file('iomem.txt'), boot.file('raw.raw'))))).toEqual(fmt(ram));
    });

    it.skipIf(!(boot.layout.lime ?? LIME_NAMES).includes('padded'))(
      'LiME format=padded: it ends at the last System RAM byte; memview --map iomem serves those ranges',
      async () => {
        expect(fs.statSync(boot.file('padded.raw')).size).toBe(ram[ram.length - 1].end + 1);
        const padded = await info('--map', boot.file('iomem.txt'), boot.file('padded.raw'));
        expect(fmt(spansOf(padded))).toEqual(fmt(ram));
      },
    );

    it("memview on QEMU's ELF serves its bytes (same instant): raw.bin is QEMU's physical loads back to back", async () => {
      const core = readCore(qemuElf);
      const out = boot.file('checks-qemu-raw.bin');
      const r = await memview('export', '--view', 'raw', '-o', out, '--force', qemuElf);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const want = createHash('sha256');
      for (const l of [...core.loads].sort((a, b) => a.paddr - b.paddr)) want.update(readPhysical(qemuElf, core, l.paddr, l.length));
      const got = createHash('sha256').update(fs.readFileSync(out)).digest('hex');
      fs.rmSync(out);
      expect(got).toBe(want.digest('hex'));
    });

    it("LiME's kernel code pages equal QEMU's dump: 100% (format=lime, read through memview)", async () => {
      const core = readCore(qemuElf);
      const out = boot.file('checks-lime-raw.bin');
      const r = await memview('export', '--view', 'raw', '-o', out, '--force', boot.file('lime.lime'));
      expect(r.code, r.stderr).toBe(0);
      try {
        const same = samePages(
          kernelCode,
          (p, n) => readAt(out, rawOffset(ram, p), n),
          (p, n) => readPhysical(qemuElf, core, p, n),
        );
        expect(same, `first differing page ${same.first}`).toMatchObject({ same: same.pages });
      } finally {
        fs.rmSync(out, { force: true });
      }
    });

    // LiME 1.9.1 copies a range that starts mid-page from the page's start (so memview has --repair-lime-shift).
    const midPage = () => ram.filter((r) => r.start % 4096 !== 0);
    it.skipIf(!boot.layout.append.some((a) => a.startsWith('memmap=0x800$')))(
      'a System RAM range starting mid-page: LiME holds it from the page start; --repair-lime-shift serves it in place',
      async () => {
        const core = readCore(qemuElf);
        expect(midPage().length).toBeGreaterThan(0);
        for (const [flags, from] of [
          [[], 'page start'],
          [['--repair-lime-shift'], 'range start'],
        ] as const) {
          const out = boot.file('checks-lime-shift.bin');
          const r = await memview('export', '--view', 'raw', '-o', out, '--force', ...flags, boot.file('lime.lime'));
          expect(r.code, r.stderr).toBe(0);
          for (const range of midPage()) {
            const n = 4096 - (range.start % 4096);
            const served = readAt(out, rawOffset(ram, range.start), n);
            const truth = readPhysical(qemuElf, core, from === 'page start' ? range.start - (range.start % 4096) : range.start, n);
            expect(served.equals(truth), `${flags.join(' ') || 'no flag'}: 0x${range.start.toString(16)} holds the bytes of the ${from}`).toBe(true);
          }
          fs.rmSync(out, { force: true });
        }
      },
    );

    describe.skipIf(!!boot.layout.noKcore)('memview inside the guest on live /proc/kcore (FUSE mount in the guest)', () => {
      it("its ranges are the guest's System RAM exactly", () => {
        expect(fmt(spansOf(JSON.parse(boot.text('kcore-info.json'))))).toEqual(fmt(ram));
      });

      it("it uses the kernel's own VMCOREINFO from kcore's PT_NOTE (no RAM search), consistent with the image", () => {
        const kernel = JSON.parse(boot.text('kcore-info.json')).kernel;
        expect(kernel.chosen).toMatchObject({ origin: '/proc/kcore PT_NOTE', osrelease: boot.text('uname-r.txt').trim(), problems: [] });
        expect(kernel.scannedBytes).toBe(0);
      });

      // Live kernel text is patched at run time (static keys, jump labels flip when modules such as
      // fuse load between memview's read and QEMU's later dump): seen 13 of 3586 pages differ in one run.
      it("kernel code pages equal QEMU's dump (99% or more, and no page more than patched: run-time text patching aside)", () => {
        const core = readCore(qemuElf);
        const raw = boot.file('kcore-raw.bin');
        const r = samePages(
          kernelCode,
          (p, n) => readAt(raw, rawOffset(ram, p), n),
          (p, n) => readPhysical(qemuElf, core, p, n),
        );
        expect(r.pages).toBeGreaterThan(100);
        expect(r.same / r.pages, `first differing page ${r.first}: ${r.same} of ${r.pages} the same`).toBeGreaterThanOrEqual(0.99);
        // Text patching rewrites a few instructions in a page; a page of other bytes (~3,000 differing: the kernel's
        // one kcore bounce buffer per open file, read by two threads at once) is a serving error.
        expect(r.mostBytesDiffering, `first differing page ${r.first}`).toBeLessThanOrEqual(256);
      });
    });
  });
}

export type { Boot };
