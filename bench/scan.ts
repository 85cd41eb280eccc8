/**
 * Scan rows of `npm run bench` (bench/run.ts calls bench(ctx)): how fast
 * memview looks through a raw image for the boot log's e820 map and the
 * VMCOREINFO note (src/sources/scan-image.ts), side by side with a plain
 * sequential read of the same file (no search; the faster of 2 and 16 MiB
 * reads) in the same run, page-cache warm. Target: >= 1 GB/s and >= 0.5 x plain read.
 *
 * Standalone: node dist/bench/scan.js [--gib N] [--repeat N] [IMAGE]
 * (without IMAGE: builds an N GiB image, default 1, in the temp directory).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileSource } from '../src/io/file-source';
import { scanImage } from '../src/mapfind/scan-image';
import { ramBytes } from '../test/helpers/machine';
import { BenchContext, BenchRow, GiB, median, MiB } from './common';

const GB = 1e9;
/** Plain reads with the scanner's chunk size and with a larger one; the faster is the baseline. */
const PLAIN_CHUNKS = [2 * MiB, 16 * MiB];

/** Reads the whole file and does nothing else: the ceiling for the scan. */
function plainRead(file: string, chunk: number): { bytes: number; seconds: number } {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(chunk);
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  for (let n; (n = fs.readSync(fd, buf, 0, chunk, bytes)) > 0;) bytes += n;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  fs.closeSync(fd);
  return { bytes, seconds };
}

async function scan(file: string): Promise<{ bytes: number; seconds: number; hits: number }> {
  const image = FileSource.open(file);
  const t0 = process.hrtime.bigint();
  const r = await scanImage(image);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  image.close();
  return { bytes: image.size, seconds, hits: r.hits.log.length + r.hits.vmcoreinfo.length };
}

/** Rows for one image: scan vs plain read, medians of `repeat` runs each, interleaved. */
export async function scanRows(file: string, repeat: number, log: (m: string) => void): Promise<BenchRow[]> {
  plainRead(file, PLAIN_CHUNKS[0]); // warm the page cache
  const plain: number[][] = PLAIN_CHUNKS.map(() => []);
  const scanned: number[] = [];
  for (let i = 0; i < repeat; i++) {
    PLAIN_CHUNKS.forEach((c, j) => {
      const p = plainRead(file, c);
      plain[j].push(p.bytes / p.seconds / GB);
    });
    const s = await scan(file);
    scanned.push(s.bytes / s.seconds / GB);
  }
  const plainGBs = Math.max(...plain.map(median));
  const scanGBs = median(scanned);
  const size = fs.statSync(file).size;
  log(`  scan ${scanGBs.toFixed(2)} GB/s, plain read ${plainGBs.toFixed(2)} GB/s over ${(size / GiB).toFixed(2)} GiB`);
  return [
    {
      group: 'scan',
      name: 'image scan for the e820 boot log + VMCOREINFO (memview map / --map auto)',
      value: scanGBs,
      unit: 'GB/s',
      baseline: { name: 'plain sequential read of the same file (best of 2 and 16 MiB reads, no search)', value: plainGBs },
      target: '>= 1 GB/s and >= 0.5 x plain read',
      ok: scanGBs >= 1 && scanGBs >= 0.5 * plainGBs,
      note: `${(size / GiB).toFixed(2)} GiB image, page-cache warm, median of ${repeat}`,
    },
  ];
}

/** Called by bench/run.ts with its bench machine (a raw image of --gib GiB). */
export async function bench(ctx: BenchContext): Promise<BenchRow[]> {
  return scanRows(ctx.machine.raw, ctx.repeat, ctx.log);
}

/** An image of `gib` GiB with RAM-like content (address-encoded words), built once in the temp directory. */
function buildImage(gib: number, log: (m: string) => void): string {
  const file = path.join(os.tmpdir(), `memview-bench-scan-${gib}g.raw`);
  if (fs.existsSync(file) && fs.statSync(file).size === gib * GiB) return file;
  log(`building ${file} …`);
  const fd = fs.openSync(file, 'w');
  for (let at = 0; at < gib * GiB; at += 64 * MiB) fs.writeSync(fd, ramBytes(at, 64 * MiB, 0x5a5a), 0, 64 * MiB, at);
  fs.closeSync(fd);
  return file;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const opt = (name: string, dflt: number) => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv.splice(i, 2)[1]) : dflt;
  };
  const gib = opt('--gib', 1);
  const repeat = opt('--repeat', 3);
  const log = (m: string) => process.stderr.write(m + '\n');
  const file = argv[0] ?? buildImage(gib, log);
  void scanRows(file, repeat, log).then((rows) => process.stdout.write(JSON.stringify(rows, null, 2) + '\n'));
}
