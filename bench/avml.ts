/**
 * AVML rows of `npm run bench` (bench/run.ts calls bench(ctx)): the same
 * compressible machine as an AVML v2 file and as a raw image + iomem, both
 * mounted by memview in the same run. Rows: sequential padded.raw (AVML vs
 * raw source), random 4 KiB reads per second, and the chunk index build
 * time (headers only) scaled to 16 GiB of memory; peak RSS of info, export
 * and mount + a sequential read of an AVML file of 2,000,000 one-byte Snappy
 * chunks against the same RAM in AVML's 64 KiB chunks (issue 11 case 9).
 *
 * Standalone: node dist/bench/avml.js [--gib N] [--repeat N] [--tiny (the tiny-chunk rows only)]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readAvmlIndex } from '../src/sources/avml';
import { FileSource } from '../src/io/file-source';
import { writeAvml } from '../test/helpers/avml-writer';
import { iomemText, ramBytes, Range, rangeLength } from '../test/helpers/machine';
import {
  runAlone,
  BenchContext,
  BenchRow,
  ddRead,
  GiB,
  mbPerSecond,
  memviewMaxRss,
  MiB,
  randomReadsPerSecond,
  repeatMedian,
  startMemview,
  withServer,
} from './common';

const PAGE = 4096;
const BLOCK = 16 * MiB;
const SALT = 0xa5a5;
const RANDOM_READS = 20_000;

/**
 * Compressible memory, deterministic per address: every 8th 16 MiB block all
 * zero (AVML leaves it out); inside the others, per page: half zero pages, a
 * quarter one repeated text-like page, a quarter unique (address-encoded) pages.
 */
function memory(start: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  const text = Buffer.alloc(PAGE, 'memview AVML bench: a page that repeats all over memory. ');
  for (let page = Math.floor(start / PAGE) * PAGE; page < start + length; page += PAGE) {
    const n = page / PAGE;
    if (Math.floor(page / BLOCK) % 8 === 7) continue;
    const kind = (n * 2654435761) % 4;
    if (kind < 2) continue;
    const bytes = kind === 2 ? text : ramBytes(page, PAGE, SALT);
    const from = Math.max(page, start);
    const to = Math.min(page + PAGE, start + length);
    bytes.copy(out, from - start, from - page, to - page);
  }
  return out;
}

interface AvmlMachine {
  avml: string;
  raw: string;
  iomem: string;
  ranges: Range[];
  ramBytes: number;
}

/** Builds (or reuses) the bench machine: raw + iomem + the AVML file of the same memory. */
function avmlMachine(gib: number, log: (m: string) => void): Promise<AvmlMachine> | AvmlMachine {
  const ranges: Range[] = [
    { start: 0x1000, end: 0x9efff },
    { start: 0x100000, end: 0x100000 + gib * GiB - 1 },
  ];
  const dir = path.join(os.tmpdir(), `memview-bench-avml-${gib}g`);
  const m: AvmlMachine = {
    avml: path.join(dir, 'machine.avml'),
    raw: path.join(dir, 'machine.raw'),
    iomem: path.join(dir, 'machine.iomem'),
    ranges,
    ramBytes: ranges.reduce((n, r) => n + rangeLength(r), 0),
  };
  const done = path.join(dir, 'done');
  if (fs.existsSync(done) && fs.readFileSync(done, 'utf8') === iomemText(ranges)) return m;
  return (async () => {
    // Built in a directory of its own, then renamed: another bench run may be building the same machine.
    const build = `${dir}.${process.pid}`;
    log(`building a ${gib} GiB compressible machine (raw + AVML) in ${dir} …`);
    fs.rmSync(build, { recursive: true, force: true });
    fs.mkdirSync(build, { recursive: true });
    const at = (file: string) => path.join(build, path.basename(file));
    const fd = fs.openSync(at(m.raw), 'w');
    for (const r of ranges) {
      for (let a = r.start; a <= r.end; a += BLOCK) fs.writeSync(fd, memory(a, Math.min(BLOCK, r.end + 1 - a)));
    }
    fs.closeSync(fd);
    fs.writeFileSync(at(m.iomem), iomemText(ranges));
    await writeAvml(at(m.avml), ranges, memory);
    fs.writeFileSync(at(done), iomemText(ranges));
    fs.rmSync(dir, { recursive: true, force: true });
    try {
      fs.renameSync(build, dir);
    } catch {
      fs.rmSync(build, { recursive: true, force: true }); // the other run finished first: use its copy
    }
    return m;
  })();
}

const TINY_CHUNKS = 2_000_000;
const TINY_BUDGET_MIB = 64;

/**
 * Builds (or reuses) two AVML files of the same 2,000,000 bytes of RAM: one
 * in one-byte Snappy chunks (half compressed, half stored; the framing
 * format allows it), one in AVML's own 64 KiB chunks.
 */
async function tinyChunkFiles(log: (m: string) => void): Promise<{ tiny: string; normal: string }> {
  const dir = path.join(os.tmpdir(), `memview-bench-avml-tiny-${TINY_CHUNKS}`);
  const files = { tiny: path.join(dir, 'tiny.avml'), normal: path.join(dir, 'normal.avml') };
  if (fs.existsSync(path.join(dir, 'done'))) return files;
  log(`building AVML files of ${TINY_CHUNKS} one-byte chunks and of 64 KiB chunks in ${dir} …`);
  const build = `${dir}.${process.pid}`;
  fs.rmSync(build, { recursive: true, force: true });
  fs.mkdirSync(build, { recursive: true });
  // AVML reads each iomem range up to its inclusive end used as exclusive: TINY_CHUNKS bytes.
  const ranges: Range[] = [{ start: 0x100000, end: 0x100000 + TINY_CHUNKS }];
  const bytes = (start: number, length: number) => ramBytes(start, length, SALT);
  await writeAvml(path.join(build, 'tiny.avml'), ranges, bytes, { chunkBytes: 1, compressAlways: true, uncompressedEvery: 2 });
  await writeAvml(path.join(build, 'normal.avml'), ranges, bytes);
  fs.writeFileSync(path.join(build, 'done'), '');
  fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.renameSync(build, dir);
  } catch {
    fs.rmSync(build, { recursive: true, force: true }); // another run finished first: use its copy
  }
  return files;
}

/** Peak RSS of memview reading all of a tiny-chunk AVML file three ways, beside the same RAM in normal chunks. */
async function tinyChunkRows(ctx: BenchContext, mnt: string): Promise<BenchRow[]> {
  const f = await tinyChunkFiles(ctx.log);
  const cache = ['--cache-mb', String(TINY_BUDGET_MIB)];
  const out = path.join(ctx.dir, 'avml-tiny.padded');
  const ways: [string, (file: string) => Promise<{ seconds: number; maxRss: number }>][] = [
    ['info (its VMCOREINFO scan reads all RAM)', (file) => memviewMaxRss(['info', file, ...cache])],
    ['export --view padded', (file) => memviewMaxRss(['export', file, '--view', 'padded', '-o', out, '--force', ...cache])],
    [
      'mount + dd of padded.raw',
      (file) =>
        withServer(
          () => startMemview(file, mnt, cache),
          async (s) => {
            const t0 = process.hrtime.bigint();
            await ddRead(path.join(s.dir, 'padded.raw'));
            return { seconds: s.readySeconds + Number(process.hrtime.bigint() - t0) / 1e9, maxRss: s.peakRss() };
          },
        ),
    ],
  ];
  const rows: BenchRow[] = [];
  for (const [what, measure] of ways) {
    ctx.log(`avml: ${what}, ${TINY_CHUNKS} one-byte chunks vs 64 KiB chunks, --cache-mb ${TINY_BUDGET_MIB}`);
    const normal = await measure(f.normal);
    const tiny = await measure(f.tiny);
    rows.push({
      group: 'avml',
      name: `AVML of ${TINY_CHUNKS} one-byte Snappy chunks, ${what}, --cache-mb ${TINY_BUDGET_MIB}: peak RSS`,
      value: tiny.maxRss / MiB,
      unit: 'MiB',
      baseline: { name: 'the same RAM in 64 KiB chunks (the fixed base)', value: normal.maxRss / MiB },
      target: `<= base + ${TINY_BUDGET_MIB} MiB budget`,
      ok: tiny.maxRss <= normal.maxRss + TINY_BUDGET_MIB * MiB,
      note: `${tiny.seconds.toFixed(2)} s vs ${normal.seconds.toFixed(2)} s`,
    });
  }
  fs.rmSync(out, { force: true });
  return rows;
}

/** Index build, in this process: open + walk every record and chunk header. Best of at least 7 (it takes ms; the machine is shared). */
async function indexSeconds(file: string, repeat: number): Promise<{ seconds: number; chunks: number }> {
  let best = Infinity;
  let chunks = 0;
  for (let i = 0; i < Math.max(7, repeat); i++) {
    const t0 = process.hrtime.bigint();
    const image = FileSource.open(file);
    try {
      chunks = (await readAvmlIndex(image)).chunks.dataChunks;
    } finally {
      image.close();
    }
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { seconds: best, chunks };
}

export async function bench(ctx: BenchContext, gib = Math.max(1, Math.min(2, Math.round(ctx.machine.ramBytes / GiB)))): Promise<BenchRow[]> {
  const m = await avmlMachine(gib, ctx.log);
  const scratch = path.join(ctx.dir, 'avml');
  const mnt = path.join(scratch, 'mnt');
  const rows: BenchRow[] = [];
  const avmlArgs = ['--map', m.iomem]; // same ranges as the raw source, so both padded.raw are identical
  const rawArgs = ['--map', m.iomem];

  ctx.log(
    `avml: sequential padded.raw, raw source vs AVML source (${(m.ramBytes / GiB).toFixed(1)} GiB RAM, AVML file ${(fs.statSync(m.avml).size / GiB).toFixed(2)} GiB)`,
  );
  await ddRead(m.raw);
  await ddRead(m.avml); // both sources page-cache warm
  const seq = (source: string, args: string[]) =>
    repeatMedian(ctx.repeat, () =>
      withServer(
        () => startMemview(source, mnt, args),
        async (s) => mbPerSecond(await ddRead(path.join(s.dir, 'padded.raw'))),
      ),
    );
  const rawSeq = await seq(m.raw, rawArgs);
  const avmlSeq = await seq(m.avml, avmlArgs);
  rows.push({ group: 'avml', name: 'padded.raw from the raw source, dd bs=1M', value: rawSeq, unit: 'MB/s' });
  rows.push({
    group: 'avml',
    name: 'padded.raw from the AVML source, dd bs=1M',
    value: avmlSeq,
    unit: 'MB/s',
    baseline: { name: 'raw source', value: rawSeq },
    target: '>= 0.5 x raw source',
    ok: avmlSeq >= 0.5 * rawSeq,
  });

  ctx.log(`avml: ${RANDOM_READS} random 4 KiB reads of padded.raw, raw vs AVML`);
  const spans: [number, number][] = m.ranges.map((r) => [r.start, rangeLength(r)]);
  const rnd = (source: string, args: string[]) =>
    repeatMedian(ctx.repeat, () =>
      withServer(
        () => startMemview(source, mnt, args),
        (s) => randomReadsPerSecond(path.join(s.dir, 'padded.raw'), RANDOM_READS, 11, spans),
      ),
    );
  const rawRnd = await rnd(m.raw, rawArgs);
  const avmlRnd = await rnd(m.avml, avmlArgs);
  rows.push({ group: 'avml', name: `padded.raw from the raw source, ${RANDOM_READS} random 4 KiB reads`, value: rawRnd, unit: 'reads/s' });
  rows.push({
    group: 'avml',
    name: `padded.raw from the AVML source, ${RANDOM_READS} random 4 KiB reads`,
    value: avmlRnd,
    unit: 'reads/s',
    baseline: { name: 'raw source', value: rawRnd },
  });

  ctx.log('avml: index build (headers only)');
  const idx = await indexSeconds(m.avml, ctx.repeat);
  const per16 = (idx.seconds * 16 * GiB) / m.ramBytes;
  rows.push({
    group: 'avml',
    name: `AVML index build, ${idx.chunks} chunks of ${(m.ramBytes / GiB).toFixed(1)} GiB, scaled to 16 GiB of memory`,
    value: per16,
    unit: 's',
    target: '< 1 s per 16 GiB',
    ok: per16 < 1,
    note: `measured ${idx.seconds.toFixed(3)} s`,
  });
  rows.push(...(await tinyChunkRows(ctx, mnt)));
  fs.rmSync(scratch, { recursive: true, force: true });
  return rows;
}

if (require.main === module) {
  runAlone('memview-bench-', (ctx, numberFlag, argv) =>
    argv.includes('--tiny') ? tinyChunkRows(ctx, path.join(ctx.dir, 'mnt')) : bench(ctx, numberFlag('--gib', 1)),
  );
}
