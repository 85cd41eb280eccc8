/**
 * Remote rows of `npm run bench` (bench/run.ts calls bench(ctx)): the bench
 * image served by a real nginx on 127.0.0.1, read through HttpSource as the
 * read path reads it (128 KiB requests in order), side by side with reading
 * the same file locally in the same run. The nginx access log counts the
 * bytes each figure cost. Block sizes are swept: the default is chosen from
 * these rows (README "Remote sources").
 *
 * Standalone: node dist/bench/remote.js [--repeat N] IMAGE
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openHttpSource } from '../src/io/http-source';
import { walkAvmlBackwards } from '../src/sources/avml-backwards';
import { writeAvml } from '../test/helpers/avml-writer';
import { memoryBytes } from '../test/helpers/machine';
import { DEFAULT_REMOTE } from '../src/io/remote-source';
import { bodyBytes, settled, startNginx } from '../test/helpers/nginx';
import { BenchContext, BenchRow, ddRead, GiB, MB, mbPerSecond, median, MiB, startMemview, withServer } from './common';

const READ = 128 * 1024;
const BLOCKS = [2 * MiB, 4 * MiB, 8 * MiB, 16 * MiB];

function localRead(file: string): number {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(READ);
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  for (let n; (n = fs.readSync(fd, buf, 0, READ, bytes)) > 0;) bytes += n;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  fs.closeSync(fd);
  return bytes / seconds / MB;
}

/** Rows for one image file. */
export async function remoteRows(file: string, scratch: string, repeat: number, log: (m: string) => void): Promise<BenchRow[]> {
  const nginx = await startNginx(path.join(scratch, 'nginx'), path.dirname(file));
  const url = `${nginx.base}/${encodeURIComponent(path.basename(file))}?sig=bench`;
  const size = fs.statSync(file).size;
  const rows: BenchRow[] = [];
  try {
    const remoteRead = async (blockSize: number) => {
      const src = await openHttpSource(url, { blockSize });
      const mark = nginx.log().length;
      const buf = Buffer.allocUnsafe(READ);
      const t0 = process.hrtime.bigint();
      for (let pos = 0; pos < size; pos += READ) await src.read(buf, 0, Math.min(READ, size - pos), pos);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      src.close();
      return { mbs: size / seconds / MB, fetched: bodyBytes((await settled(() => nginx.log())).slice(mark)) };
    };
    localRead(file); // page cache warm, as nginx's sendfile will be
    const local: number[] = [];
    const remote = new Map<number, { mbs: number[]; fetched: number }>(BLOCKS.map((b) => [b, { mbs: [], fetched: 0 }]));
    for (let round = 1; round <= repeat; round++) {
      local.push(localRead(file));
      for (const b of BLOCKS) {
        log(`  round ${round}/${repeat}: ${b / MiB} MiB blocks`);
        const r = await remoteRead(b);
        remote.get(b)!.mbs.push(r.mbs);
        remote.get(b)!.fetched = r.fetched;
      }
    }
    const localMbs = median(local);
    for (const [b, r] of remote) {
      const mbs = median(r.mbs);
      rows.push({
        group: 'remote',
        name: `sequential read over HTTP (nginx, loopback), ${b / MiB} MiB blocks${b === DEFAULT_REMOTE.blockSize ? ' (default)' : ''}`,
        value: mbs,
        unit: 'MB/s',
        baseline: { name: 'the same file read locally, 128 KiB reads', value: localMbs },
        ratio: mbs / localMbs,
        samples: r.mbs,
        baselineSamples: local,
        target: 'bytes fetched <= 1.1 x image',
        ok: r.fetched <= 1.1 * size,
        note: `fetched ${(r.fetched / size).toFixed(3)} x the ${(size / GiB).toFixed(2)} GiB image; ${DEFAULT_REMOTE.concurrency} requests in flight, read-ahead ${DEFAULT_REMOTE.readAheadBlocks} blocks`,
      });
    }
    // One 4 KiB read of a fresh source, in the middle of the image.
    const src = await openHttpSource(url);
    const mark = nginx.log().length;
    await src.read(Buffer.alloc(4096), 0, 4096, Math.floor(size / 2 / 4096) * 4096 + 123);
    const one = bodyBytes((await settled(() => nginx.log())).slice(mark));
    src.close();
    rows.push({
      group: 'remote',
      name: 'bytes fetched by one 4 KiB read of a freshly opened object',
      value: one / MiB,
      unit: 'MiB',
      target: `<= one block (${DEFAULT_REMOTE.blockSize / MiB} MiB)`,
      ok: one <= DEFAULT_REMOTE.blockSize,
    });
    const avml = await benchAvml(path.dirname(file), log);
    try {
      rows.push(await avmlWalkRow(nginx, avml));
      rows.push(await avmlMountRssRow(nginx, avml, scratch, log));
    } finally {
      fs.rmSync(avml, { force: true });
    }
  } finally {
    await nginx.stop();
  }
  return rows;
}

type Nginx = Awaited<ReturnType<typeof startNginx>>;

/** An AVML file of 512 MiB of RAM in `dir` (the directory nginx serves). */
async function benchAvml(dir: string, log: (m: string) => void): Promise<string> {
  const file = path.join(dir, 'memview-bench-remote.avml');
  const ram = 512 * MiB;
  if (!fs.existsSync(file)) {
    log(`  writing ${file} (512 MiB of RAM, AVML v2)`);
    await writeAvml(file, [{ start: 0x100000, end: 0x100000 + ram - 1 }], (start, length) => memoryBytes(start, length, 0xb3));
  }
  return file;
}

/** Mounting an AVML object: the records walked from the end, bytes fetched against the object's size. */
async function avmlWalkRow(nginx: Nginx, file: string): Promise<BenchRow> {
  const src = await openHttpSource(`${nginx.base}/${path.basename(file)}?sig=bench`);
  const mark = nginx.log().length;
  const t0 = process.hrtime.bigint();
  const tail = await walkAvmlBackwards(src.probing());
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const fetched = bodyBytes((await settled(() => nginx.log())).slice(mark));
  src.close();
  return {
    group: 'remote',
    name: `bytes fetched to mount an AVML object over HTTP (${tail.records.length} records walked from the end)`,
    value: fetched / MiB,
    unit: 'MiB',
    baseline: { name: 'the object', value: src.size / MiB },
    ratio: fetched / src.size,
    target: '<= a few percent of the object',
    ok: fetched <= 0.05 * src.size,
    note: `${tail.reads} reads in ${seconds.toFixed(2)} s over loopback`,
  };
}

const CACHE_MB = 64;

/**
 * Peak RSS of `memview mount` of the AVML object over HTTP, then dd of
 * padded.raw, against the same file mounted locally: fetched pages and
 * decoded chunks share the one --cache-mb budget, so the remote mount may
 * exceed the local one only by its fetches in flight (requests x block,
 * and each block's page copies).
 */
async function avmlMountRssRow(nginx: Nginx, file: string, scratch: string, log: (m: string) => void): Promise<BenchRow> {
  const mnt = path.join(scratch, 'mnt-rss');
  const args = ['--cache-mb', String(CACHE_MB), '--vmcoreinfo', 'off'];
  const peak = (source: string) =>
    withServer(
      () => startMemview(source, mnt, args),
      async (s) => {
        const r = await ddRead(path.join(s.dir, 'padded.raw'));
        return { rss: s.peakRss(), mbs: mbPerSecond(r) };
      },
    );
  log(`  AVML mounted locally and over HTTP, --cache-mb ${CACHE_MB}: peak RSS`);
  const local = await peak(file);
  const remote = await peak(`${nginx.base}/${path.basename(file)}?sig=bench`);
  const inFlight = 2 * DEFAULT_REMOTE.concurrency * DEFAULT_REMOTE.blockSize;
  return {
    group: 'remote',
    name: `AVML object over HTTP, memview mount --cache-mb ${CACHE_MB} + dd of padded.raw: peak RSS`,
    value: remote.rss / MiB,
    unit: 'MiB',
    baseline: { name: 'the same file mounted locally', value: local.rss / MiB },
    target: `<= local + fetches in flight (${inFlight / MiB} MiB)`,
    ok: remote.rss <= local.rss + inFlight,
    note: `${remote.mbs.toFixed(0)} MB/s vs ${local.mbs.toFixed(0)} MB/s locally`,
  };
}

export async function bench(ctx: BenchContext): Promise<BenchRow[]> {
  return remoteRows(ctx.machine.raw, ctx.dir, ctx.repeat, ctx.log);
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const repeat = Number(value('--repeat') ?? 3);
  const image = argv.find((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
  if (!image) throw new Error('usage: node dist/bench/remote.js [--repeat N] IMAGE');
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'memview-bench-remote-'));
  remoteRows(image, scratch, repeat, (m) => console.error(m))
    .then((rows) => {
      for (const r of rows)
        console.log(
          `${r.name}: ${r.value.toFixed(1)} ${r.unit}${r.baseline ? ` (local ${r.baseline.value.toFixed(0)} ${r.unit}, ratio ${r.ratio?.toFixed(2)})` : ''}${r.note ? `; ${r.note}` : ''}`,
        );
    })
    .finally(() => fs.rmSync(scratch, { recursive: true, force: true }));
}
