/**
 * Compressed and split sources in `npm run bench` (bench/run.ts calls
 * bench(ctx)): one memory-like machine as a raw image + iomem, a
 * kdump-compressed dump (zlib pages), LiME compress=1 (one zlib stream,
 * windowBits 11) and a FILE@ADDR split dump, all mounted by memview in the
 * same run. Rows: sequential padded.raw (each vs the raw source), random 4 KiB
 * reads per second, and for LiME compress=1 the index build (MB/s of inflated
 * output), the index size and the time of one random 4 KiB read.
 *
 * Standalone: node dist/bench/compressed.js [--mib N] [--repeat N]
 */
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { FileSource } from '../src/io/file-source';
import { indexZlibStream } from '../src/io/zlib-index';
import { writeKdump } from '../test/helpers/kdump-writer';
import { expectedLime, iomemText, materialise, Range, rangeLength } from '../test/helpers/machine';
import { runAlone, BenchContext, BenchRow, ddRead, mbPerSecond, MiB, randomReadsPerSecond, repeatMedian, startMemview, withServer } from './common';

const PAGE = 4096;
const RANDOM_READS = 5_000;

/** Memory-like pages, deterministic per address: a third zero, a sixth random (incompressible), the rest text and address patterns. */
function fillMemory(buf: Buffer, phys: number): void {
  for (let p = 0; p < buf.length; p += PAGE) {
    const n = (((phys + p) / PAGE) * 2654435761) % 6;
    const page = buf.subarray(p, p + PAGE);
    if (n < 2) continue;
    if (n === 2) randomFillSync(page);
    else if (n === 3) page.write(`memview bench text page ${(phys + p).toString(16)} `.repeat(200), 'latin1');
    else for (let i = 0; i + 8 <= page.length; i += 8) page.writeUInt32LE((phys + p + i) ^ 0x5a5a5a5a, i);
  }
}

interface Machine {
  raw: string;
  iomem: string;
  kdump: string;
  lime: string;
  split: string;
  ranges: Range[];
  ramBytes: number;
  paddedSize: number;
}

function buildMachine(dir: string, mib: number): Machine {
  const ranges: Range[] = [
    { start: 0x1000, end: 0x9efff },
    { start: 0x100000, end: 0x100000 + mib * MiB - 1 },
  ];
  fs.mkdirSync(dir, { recursive: true });
  const parts = ranges.map((r) => {
    const b = Buffer.alloc(rangeLength(r));
    fillMemory(b, r.start);
    return b;
  });
  const m: Machine = {
    raw: path.join(dir, 'machine.raw'),
    iomem: path.join(dir, 'machine.iomem'),
    kdump: path.join(dir, 'machine.kdump'),
    lime: path.join(dir, 'machine.lime'),
    split: ranges.map((r, i) => `${path.join(dir, `part${i}.bin`)}@0x${r.start.toString(16)}`).join(','),
    ranges,
    ramBytes: parts.reduce((n, b) => n + b.length, 0),
    paddedSize: ranges[ranges.length - 1].end + 1,
  };
  fs.writeFileSync(m.raw, Buffer.concat(parts));
  fs.writeFileSync(m.iomem, iomemText(ranges));
  parts.forEach((b, i) => fs.writeFileSync(path.join(dir, `part${i}.bin`), b));
  const pageOf = (pfn: number) => {
    const i = ranges.findIndex((r) => pfn * PAGE >= r.start && pfn * PAGE <= r.end);
    return parts[i].subarray(pfn * PAGE - ranges[i].start, pfn * PAGE - ranges[i].start + PAGE);
  };
  const present = (pfn: number) => ranges.some((r) => pfn * PAGE >= r.start && pfn * PAGE <= r.end);
  fs.writeFileSync(m.kdump, writeKdump({ maxMapnr: Math.ceil(m.paddedSize / PAGE), present, page: pageOf, codec: () => 'zlib', shareZeroPages: true }));
  // LiME compress=1: the LiME image of the same memory deflated as the module does (windowBits 11, memLevel 5).
  const lime = materialise(expectedLime(ranges).map((c, i) => (i % 2 === 1 ? parts[(i - 1) / 2] : c)));
  fs.writeFileSync(m.lime, zlib.deflateSync(lime, { windowBits: 11, memLevel: 5 }));
  return m;
}

export async function bench(ctx: BenchContext, mib = 256): Promise<BenchRow[]> {
  const scratch = path.join(ctx.dir, 'compressed');
  ctx.log(`compressed: building a ${mib} MiB machine as raw, kdump (zlib), LiME compress=1 and FILE@ADDR …`);
  const m = buildMachine(path.join(scratch, 'machine'), mib);
  const mnt = path.join(scratch, 'mnt');
  const rows: BenchRow[] = [];
  const sources: { name: string; source: string; args: string[] }[] = [
    { name: 'raw source', source: m.raw, args: ['--map', m.iomem] },
    { name: 'kdump-compressed (zlib) source', source: m.kdump, args: ['--vmcoreinfo', 'off'] },
    { name: 'LiME compress=1 source', source: m.lime, args: ['--vmcoreinfo', 'off'] },
    { name: 'FILE@ADDR split source', source: m.split, args: [] },
  ];
  for (const f of [m.raw, m.kdump, m.lime]) await ddRead(f); // page-cache warm
  const spans: [number, number][] = m.ranges.map((r) => [r.start, rangeLength(r)]);
  const seq: number[] = [];
  const rnd: number[] = [];
  for (const s of sources) {
    ctx.log(`compressed: sequential padded.raw and ${RANDOM_READS} random 4 KiB reads, ${s.name}`);
    seq.push(
      await repeatMedian(ctx.repeat, () =>
        withServer(
          () => startMemview(s.source, mnt, s.args),
          async (srv) => mbPerSecond(await ddRead(path.join(srv.dir, 'padded.raw'))),
        ),
      ),
    );
    rnd.push(
      await repeatMedian(ctx.repeat, () =>
        withServer(
          () => startMemview(s.source, mnt, s.args),
          (srv) => randomReadsPerSecond(path.join(srv.dir, 'padded.raw'), RANDOM_READS, 13, spans),
        ),
      ),
    );
  }
  sources.forEach((s, i) => {
    const baseline = i > 0 ? { name: 'raw source', value: seq[0] } : undefined;
    rows.push({ group: 'compressed', name: `padded.raw from the ${s.name}, dd bs=1M`, value: seq[i], unit: 'MB/s', ...(baseline ? { baseline } : {}) });
  });
  sources.forEach((s, i) => {
    const baseline = i > 0 ? { name: 'raw source', value: rnd[0] } : undefined;
    rows.push({
      group: 'compressed',
      name: `padded.raw from the ${s.name}, ${RANDOM_READS} random 4 KiB reads`,
      value: rnd[i],
      unit: 'reads/s',
      ...(baseline ? { baseline } : {}),
    });
  });
  const limeReadMs = 1000 / rnd[2];
  rows.push({
    group: 'compressed',
    name: 'LiME compress=1: one random 4 KiB read of padded.raw (mean, through the mount)',
    value: limeReadMs,
    unit: 'ms',
    target: '<= 5 ms',
    ok: limeReadMs <= 5,
  });

  ctx.log('compressed: LiME compress=1 index build (one inflate pass, in this process)');
  let best = Infinity;
  let indexBytes = 0;
  let inflated = 0;
  for (let i = 0; i < Math.max(3, ctx.repeat); i++) {
    const image = FileSource.open(m.lime);
    try {
      const t0 = process.hrtime.bigint();
      const index = await indexZlibStream(image);
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
      indexBytes = index.indexBytes;
      inflated = index.size;
    } finally {
      image.close();
    }
  }
  const rate = inflated / 1e6 / best;
  // The same stream through node's native zlib (no index, no checkpoints), same run: what the machine gives now.
  const stream = fs.readFileSync(m.lime);
  let nativeBest = Infinity;
  for (let i = 0; i < Math.max(3, ctx.repeat); i++) {
    const t0 = process.hrtime.bigint();
    zlib.inflateSync(stream);
    nativeBest = Math.min(nativeBest, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  rows.push({
    group: 'compressed',
    name: `LiME compress=1 index build, ${(inflated / MiB).toFixed(0)} MiB inflated (best of ${Math.max(3, ctx.repeat)})`,
    value: rate,
    unit: 'MB/s',
    baseline: { name: "node's native zlib inflating the same stream, no index", value: inflated / 1e6 / nativeBest },
    target: '>= 200 MB/s',
    ok: rate >= 200,
  });
  const pct = (100 * indexBytes) / inflated;
  rows.push({
    group: 'compressed',
    name: 'LiME compress=1 index size',
    value: pct,
    unit: '% of the image',
    target: '<= 1%',
    ok: pct <= 1,
    note: `${indexBytes} bytes`,
  });
  fs.rmSync(scratch, { recursive: true, force: true });
  return rows;
}

if (require.main === module) runAlone('memview-bench-', (ctx, numberFlag) => bench(ctx, numberFlag('--mib', 256)));
