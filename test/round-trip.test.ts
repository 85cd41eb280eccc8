/**
 * Round trip at engine level: for every source shape S and every image view V
 * of it, V(S) opened as a source (with the iomem.txt the mount serves beside
 * it) gives the same views as S, byte for byte.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportFile } from '../src/cli/export';
import { OpenOptions } from '../src/sources/open';
import { tempDir } from './helpers/cli';
import { kernelMachine, writeKernelMachine } from './helpers/kernel';
import { Chunk, iomemText, Range, rangeLength, writeChunks } from './helpers/machine';
import { limeImage, limeModuleImage, Note, qemuElfImage, saltedRam, writeKcoreFile } from './helpers/source-writers';
import { expectSameBytes, openAsMount, Opened } from './support/views';

/** A small machine: RAM ends mid-page, and two ranges split at an unaligned byte. */
const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x2f3017 },
  { start: 0x2f3018, end: 0x3fffff },
];
const mem = saltedRam(0x5254);
const tmp = tempDir('memview-roundtrip-');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const iomem = path.join(tmp, 'machine.iomem');
fs.writeFileSync(iomem, iomemText(RANGES));

function write(name: string, chunks: Chunk[]): string {
  const f = path.join(tmp, name);
  writeChunks(f, chunks);
  return f;
}

function paddedChunks(): Chunk[] {
  const out: Chunk[] = [];
  let pos = 0;
  for (const r of RANGES) {
    out.push({ zeros: r.start - pos }, mem(r.start, rangeLength(r)));
    pos = r.end + 1;
  }
  return out;
}

const qemuNotes: Note[] = [
  { name: 'CORE', type: 1, desc: Buffer.alloc(336) },
  { name: 'QEMU', type: 0, desc: Buffer.alloc(440) },
];

/**
 * Every source shape, written by the independent writers, with the options
 * it is opened with. The last carries a kernel (VMCOREINFO note and page
 * tables in RAM), so its mount also serves vmcore, which goes round too.
 */
const SHAPES: { name: string; make: () => { file: string; options: OpenOptions } }[] = [
  {
    name: 'raw + iomem',
    make: () => ({
      file: write(
        'machine.raw',
        RANGES.map((r) => mem(r.start, rangeLength(r))),
      ),
      options: { map: iomem },
    }),
  },
  { name: 'padded + iomem', make: () => ({ file: write('machine.padded', paddedChunks()), options: { map: iomem } }) },
  { name: 'LiME (exact)', make: () => ({ file: write('machine.lime', limeImage(RANGES, mem)), options: {} }) },
  { name: 'LiME (module quirks)', make: () => ({ file: write('module.lime', limeModuleImage(RANGES, mem)), options: {} }) },
  {
    name: 'QEMU ELF',
    make: () => ({
      file: write(
        'qemu.core',
        qemuElfImage(
          [
            { paddr: 0n, data: mem(0, 0xa0000) },
            { paddr: 0x100000n, data: mem(0x100000, 0x2f0000), memsz: 0x300000 },
          ],
          qemuNotes,
        ),
      ),
      options: {},
    }),
  },
  // A kcore without VMCOREINFO in PT_NOTE (before 4.19): its salted RAM holds no kernel, and a note
  // carried only in the headers would not survive as padded.raw or raw.bin.
  { name: 'kcore layout + iomem', make: () => ({ file: writeKcoreFile(path.join(tmp, 'kcore'), RANGES, mem, 0x200000, null).file, options: { map: iomem } }) },
  {
    name: 'raw + iomem of a machine with a kernel (vmcore too)',
    make: () => {
      // The kernel image (12 MiB from 4 MiB) and its VMCOREINFO note lie in RAM.
      const km = kernelMachine({ ranges: [...RANGES.slice(0, 2), { start: 0x2f3018, end: 0x12fffff }], textPhys: 0x400000 });
      const files = writeKernelMachine(path.join(tmp, 'kernel'), km);
      return { file: files.raw, options: { map: files.iomem } };
    },
  },
];

/** Views that hold memory or its map (the rest name the source file: README.txt, crash.args, info.json, …). */
const compared = (name: string) => /\.(raw|lime|elf|bin)$|^vmcore$|^iomem\.txt$/.test(name);
/** Views a user may feed back in as a source. */
const IMAGE_VIEWS = /^(padded\.raw|memory\.lime|memory\.elf|vmcore|raw\.bin|leechcore\.lime)$/;

async function expectSameViews(expected: Map<string, Buffer>, b: Opened, what: string): Promise<void> {
  expect(b.views.map((v) => v.name).filter(compared), what).toEqual([...expected.keys()]);
  for (const [name, bytes] of expected) expectSameBytes(await b.read(name), bytes, `${what}: ${name}`);
}

describe('round trip: every view of every source shape, mounted again, gives the same views', () => {
  for (const shape of SHAPES) {
    it(shape.name, async () => {
      const { file, options } = shape.make();
      const s = await openAsMount(file, options);
      const dir = path.join(tmp, shape.name.replace(/\W+/g, '-'));
      fs.mkdirSync(dir);
      try {
        const map = path.join(dir, 'iomem.txt');
        fs.writeFileSync(map, await s.read('iomem.txt'));
        const expected = new Map<string, Buffer>();
        for (const v of s.views.filter((x) => compared(x.name))) expected.set(v.name, await s.read(v.name));
        const views = s.views.filter((v) => IMAGE_VIEWS.test(v.name));
        expect(views.length).toBeGreaterThanOrEqual(shape.name.includes('vmcore') ? 6 : 5);
        if (shape.name.includes('vmcore')) expect(views.map((v) => v.name)).toContain('vmcore');
        for (const v of views) {
          const out = path.join(dir, v.name);
          await exportFile({ file: v.file, output: out, inputs: [{ path: file, role: 'the source image' }], force: false, progress: () => {} });
          const again = await openAsMount(out, { map });
          try {
            await expectSameViews(expected, again, `${shape.name} -> ${v.name} (opened as ${again.source.format})`);
          } finally {
            again.close();
          }
          fs.rmSync(out);
        }
      } finally {
        s.close();
      }
    });
  }
});
