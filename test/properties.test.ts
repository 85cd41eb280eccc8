/**
 * fast-check properties on real files:
 * - random maps and random reads: every view equals the independent
 *   reference writers (padded, LiME, raw) and memory.elf's PT_LOADs hold the
 *   machine's physical bytes;
 * - random mutations of LiME, ELF and AVML headers never crash the parsers:
 *   the result is a one-line InputError or a source whose views read (or fail
 *   a read with EIO), never another exception.
 */
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors';
import { openSource } from '../src/sources/open';
import { Source } from '../src/sources/source';
import { buildViews, View } from '../src/views/index';
import { writeAvml } from './helpers/avml-writer';
import { tempDir } from './helpers/cli';
import { readElf } from './helpers/elf-reader';
import { Chunk, chunksLength, expectedLime, expectedRaw, materialise, physicalBytes, ramBytes, Range, readChunks, writeMachine } from './helpers/machine';
import { elfCoreImage, limeImage } from './helpers/source-writers';

const PAGE = 4096;
const tmp = tempDir('memview-props-');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let serial = 0;
const scratch = () => path.join(tmp, String(serial++));

/**
 * A random map: 1-5 ranges, each after a gap (possibly 0 bytes: adjacent
 * ranges split at any byte, as setup_data splits them; sometimes several GiB,
 * so addresses pass 4 GiB) and with a length that need not be page-sized.
 */
const mapArb = fc
  .array(
    fc.record({
      gap: fc.oneof(
        fc.integer({ min: 0, max: 3 * PAGE }),
        fc.integer({ min: 1, max: 8 }).map((g) => g * 2 ** 30 + 0x1000),
      ),
      length: fc.integer({ min: 1, max: 6 * PAGE }),
    }),
    { minLength: 1, maxLength: 5 },
  )
  .map((specs) => {
    const ranges: Range[] = [];
    let at = 0;
    for (const s of specs) {
      const start = at + s.gap;
      ranges.push({ start, end: start + s.length - 1 });
      at = start + s.length;
    }
    return ranges;
  });

/** Reads as (fraction of the file, length): offsets land anywhere, including the last bytes and past the end. */
const readsArb = fc.array(fc.tuple(fc.double({ min: 0, max: 1.01, noNaN: true }), fc.integer({ min: 0, max: 3 * PAGE + 7 })), { minLength: 1, maxLength: 30 });

async function readView(view: View, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const n = await view.file.read(buf, offset, length);
  return buf.subarray(0, n);
}

describe('random maps, random reads: views equal the references', () => {
  it('padded.raw, memory.lime, raw.bin and memory.elf', async () => {
    await fc.assert(
      fc.asyncProperty(mapArb, readsArb, fc.integer({ min: 0, max: 0xffff }), async (ranges, reads, salt) => {
        const m = writeMachine(scratch(), ranges, salt);
        const source = await openSource(m.raw, { map: m.iomem });
        try {
          const views = buildViews(source);
          const view = (name: string) => views.find((v) => v.name === name)!;
          const last = ranges[ranges.length - 1].end + 1;
          const refs: [string, number, (o: number, l: number) => Buffer][] = [
            ['padded.raw', last, (o, l) => physicalBytes(ranges, o, Math.max(0, Math.min(l, last - o)), salt)],
            ['memory.lime', chunksLength(expectedLime(ranges, salt)), (o, l) => readChunks(expectedLime(ranges, salt), o, l)],
            ['raw.bin', chunksLength(expectedRaw(ranges, salt)), (o, l) => readChunks(expectedRaw(ranges, salt), o, l)],
          ];
          for (const [name, size, ref] of refs) {
            expect(view(name).file.size, name).toBe(size);
            for (const [frac, length] of reads) {
              const offset = Math.floor(frac * size);
              const got = await readView(view(name), offset, length);
              if (!got.equals(ref(offset, length))) throw new Error(`${name} read(${offset}, ${length}) differs from the reference`);
            }
          }
          // memory.elf: every PT_LOAD's file bytes are the physical bytes at its p_paddr (zeros outside RAM).
          const elf = view('memory.elf');
          const core = readElf(await readView(elf, 0, 64 * 1024));
          const loads = core.phdrs.filter((p) => p.type === 1);
          expect(loads.length).toBeGreaterThan(0);
          for (const [frac, length] of reads) {
            const p = loads[Math.floor(frac * loads.length) % loads.length];
            const within = Math.floor(frac * p.filesz) % p.filesz;
            const n = Math.min(length, p.filesz - within);
            const got = await readView(elf, p.offset + within, n);
            if (!got.equals(physicalBytes(ranges, Number(p.paddr) + within, n, salt))) throw new Error(`memory.elf PT_LOAD at ${p.paddr} +${within} differs`);
          }
          for (const r of ranges) {
            const covered = loads.some((p) => Number(p.paddr) <= r.start && Number(p.paddr) + p.filesz > r.end);
            expect(covered, `RAM ${r.start}-${r.end} is inside a PT_LOAD`).toBe(true);
          }
        } finally {
          source.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});

/** Opens a (possibly broken) image: an InputError, or a source whose views all read or fail with EIO. */
async function openOrRefuse(file: string): Promise<'refused' | 'opened'> {
  let source: Source;
  try {
    source = await openSource(file, {});
  } catch (e) {
    if (e instanceof InputError) {
      expect(e.message.includes('\n')).toBe(false);
      return 'refused';
    }
    throw e;
  }
  try {
    for (const view of buildViews(source)) {
      for (const at of [0, Math.max(0, view.file.size - PAGE), Math.floor(view.file.size / 2)]) {
        try {
          await readView(view, at, PAGE);
        } catch (e) {
          if ((e as { code?: string }).code !== 'EIO') throw e;
        }
      }
    }
  } finally {
    source.close();
  }
  return 'opened';
}

/** Byte edits (position, value) confined to `regions`, plus an optional truncation or appended tail. */
function mutationArb(regions: [number, number][], size: number) {
  const spots = regions.flatMap(([a, b]) => Array.from({ length: b - a }, (_, i) => a + i));
  return fc.record({
    edits: fc.array(fc.tuple(fc.constantFrom(...spots), fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 0xff))), { minLength: 1, maxLength: 8 }),
    wide: fc.option(fc.tuple(fc.constantFrom(...spots), fc.constantFrom(0n, 0xffffffffffffffffn, 1n << 52n, 1n << 63n, 0x7fffffffn)), { nil: undefined }),
    cut: fc.option(fc.integer({ min: 1, max: size - 1 }), { nil: undefined }),
    tail: fc.option(fc.uint8Array({ minLength: 1, maxLength: 64 }), { nil: undefined }),
  });
}

function mutate(base: Buffer, m: Mutation): Buffer {
  let b = Buffer.from(base);
  for (const [at, v] of m.edits) b[at] = v;
  if (m.wide && m.wide[0] + 8 <= b.length) b.writeBigUInt64LE(m.wide[1], m.wide[0]);
  if (m.cut !== undefined) b = b.subarray(0, m.cut);
  if (m.tail) b = Buffer.concat([b, m.tail]);
  return b;
}

type Mutation = { edits: [number, number][]; wide?: [number, bigint]; cut?: number; tail?: Uint8Array };

async function checkMutations(name: string, base: Buffer, regions: [number, number][], runs: number, examples: Mutation[] = []): Promise<void> {
  const outcomes = { refused: 0, opened: 0 };
  await fc.assert(
    fc.asyncProperty(mutationArb(regions, base.length), async (m) => {
      const file = path.join(tmp, `${name}-${serial++}`);
      fs.writeFileSync(file, mutate(base, m));
      outcomes[await openOrRefuse(file)]++;
      fs.rmSync(file);
    }),
    { numRuns: runs, examples: examples.map((e) => [e]) },
  );
  // Both outcomes happen: the mutations reach the checks and also leave valid files.
  expect(outcomes.refused).toBeGreaterThan(0);
  expect(outcomes.opened + outcomes.refused).toBe(runs); // fast-check counts the examples within numRuns
}

describe('random header mutations never crash the parsers', () => {
  const ranges: Range[] = [
    { start: 0x1000, end: 0x2fff },
    { start: 0x100000, end: 0x100fff },
    { start: 0x200000, end: 0x2007ff },
  ];

  it('LiME: headers of every record', async () => {
    const chunks: Chunk[] = limeImage(ranges);
    const base = materialise(chunks);
    const regions: [number, number][] = [];
    let at = 0;
    for (const r of ranges) {
      regions.push([at, at + 32]);
      at += 32 + (r.end - r.start + 1);
    }
    await checkMutations('lime', base, regions, 300);
  });

  it('ELF core: header, program headers and notes', async () => {
    const base = materialise(
      elfCoreImage(
        ranges.map((r) => ({ paddr: BigInt(r.start), data: ramBytes(r.start, r.end - r.start + 1) })),
        [
          { name: 'CORE', type: 1, desc: Buffer.alloc(336) },
          { name: 'VMCOREINFO', type: 0, desc: Buffer.from('OSRELEASE=6.1.0\nPAGESIZE=4096\n') },
        ],
      ),
    );
    const notesAt = 64 + 4 * 56;
    const headerEnd = notesAt + 12 + 8 + 336 + 12 + 12 + 32;
    // Found by this property: a note namesz of 2^31 overflowed 32-bit padding arithmetic (RangeError).
    const hugeNamesz: Mutation = { edits: [[notesAt + 3, 0x80]] };
    await checkMutations('elf', base, [[0, headerEnd]], 300, [hugeNamesz]);
  });

  it('AVML: record headers, Snappy chunk headers and trailers', async () => {
    const file = path.join(tmp, 'base.avml');
    const written = await writeAvml(
      file,
      [
        { start: 0x1000, end: 0x20fff },
        { start: 0x100000, end: 0x11ffff },
      ],
      (s, n) => ramBytes(s, n),
    );
    const base = fs.readFileSync(file);
    const regions: [number, number][] = [
      ...written.blocks.map((b): [number, number] => [b.fileOffset, b.fileOffset + 32]),
      ...written.chunks.map((c): [number, number] => [c.fileOffset, c.fileOffset + 8]),
      [base.length - 8, base.length],
    ];
    await checkMutations('avml', base, regions, 200);
  });
});
