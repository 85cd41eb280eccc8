/**
 * Which settings win: FUSE options and block-store variants measured side
 * by side, interleaved round by round so that load from other processes
 * hits every variant alike. Each timed read gets a fresh mount (cold FUSE
 * page cache; the source stays page-cache warm).
 *   node dist/bench/sweep.js [--rounds N] [--gib N] [--seq-mib N] [--reads N] [--only REGEX] [--cold-source]
 * --cold-source evicts the source file from the page cache before each timed read (disk-bound).
 * Prints a Markdown table (median per variant) and writes bench/sweep.json.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { rangeLength } from '../test/helpers/machine';
import { ddRead, exec, GiB, mbPerSecond, median, MiB, ROOT, Server, startPassthrough, startServer, withServer } from './common';
import { benchMachine } from './run';

interface Variant {
  name: string;
  /** passthrough: bench/passthrough.ts; memview: bench/variant.ts. */
  server: 'passthrough' | 'memview';
  settings: { tuning?: object; store?: object };
  async?: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'passthrough, sync pread, ra 128K', server: 'passthrough', settings: { tuning: { readaheadKb: 0 } } },
  { name: 'passthrough, sync pread, ra 1M', server: 'passthrough', settings: { tuning: { readaheadKb: 1024 } } },
  { name: 'passthrough, async pread, ra 1M', server: 'passthrough', settings: { tuning: { readaheadKb: 1024 } }, async: true },
  { name: 'passthrough, sync pread, direct_io', server: 'passthrough', settings: { tuning: { directIo: true } } },
  { name: 'memview, cache 256K blocks, ra 128K', server: 'memview', settings: { tuning: { readaheadKb: 0 }, store: { kind: 'cache', blockKiB: 256 } } },
  { name: 'memview, cache 256K blocks, ra 1M', server: 'memview', settings: { tuning: { readaheadKb: 1024 }, store: { kind: 'cache', blockKiB: 256 } } },
  { name: 'memview, cache 64K blocks, ra 1M', server: 'memview', settings: { tuning: { readaheadKb: 1024 }, store: { kind: 'cache', blockKiB: 64 } } },
  { name: 'memview, async pread, ra 1M', server: 'memview', settings: { tuning: { readaheadKb: 1024 }, store: { kind: 'async' } } },
  { name: 'memview, sync pread, ra 128K', server: 'memview', settings: { tuning: { readaheadKb: 0 }, store: { kind: 'sync' } } },
  { name: 'memview, sync pread, ra 1M', server: 'memview', settings: { tuning: { readaheadKb: 1024 }, store: { kind: 'sync' } } },
  { name: 'memview, sync pread, ra 4M', server: 'memview', settings: { tuning: { readaheadKb: 4096 }, store: { kind: 'sync' } } },
  { name: 'memview, sync pread, direct_io', server: 'memview', settings: { tuning: { directIo: true }, store: { kind: 'sync' } } },
];

/** Evicts one file from the page cache (POSIX_FADV_DONTNEED through GNU dd); other processes' caches stay. */
async function dropSourceCache(file: string): Promise<void> {
  await exec('dd', [`if=${file}`, 'iflag=nocache', 'count=0']);
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

async function main(): Promise<void> {
  const rounds = arg('--rounds', 3);
  const seqMiB = arg('--seq-mib', 1024);
  const reads = arg('--reads', 5000);
  const log = (m: string) => process.stderr.write(`sweep: ${m}\n`);
  const machine = benchMachine(arg('--gib', 2), false, log);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'memview-sweep-'));
  const only = process.argv.includes('--only') ? new RegExp(process.argv[process.argv.indexOf('--only') + 1]) : null;
  const variants = VARIANTS.filter((v) => !only || only.test(v.name));
  const results = new Map<string, { seq: number[]; random: number[]; hole: number[]; rss: number }>();
  for (const v of variants) results.set(v.name, { seq: [], random: [], hole: [], rss: 0 });
  const start = (v: Variant): Promise<Server> =>
    v.server === 'passthrough'
      ? startPassthrough(machine.raw, path.join(scratch, 'pt'), ['--tuning', JSON.stringify(v.settings.tuning ?? {}), ...(v.async ? ['--async'] : [])])
      : startServer(
          path.join(__dirname, 'variant.js'),
          [machine.raw, path.join(scratch, 'mnt'), machine.iomem, JSON.stringify(v.settings)],
          path.join(scratch, 'mnt'),
        );
  // memview serves the RAM bytes in raw.bin; the passthrough serves the same bytes as machine.raw.
  const seqFile = (v: Variant, s: Server) => path.join(s.dir, v.server === 'passthrough' ? 'machine.raw' : 'raw.bin');
  const randomFile = (v: Variant, s: Server) => path.join(s.dir, v.server === 'passthrough' ? 'machine.raw' : 'padded.raw');
  const spans = (v: Variant): [number, number][] =>
    v.server === 'passthrough' ? [[0, machine.ramBytes]] : machine.ranges.map((r) => [r.start, rangeLength(r)]);
  const coldSource = process.argv.includes('--cold-source');
  // Before every figure: evict the source (--cold-source) or re-read it (other processes push it out of the page cache).
  const prepareSource = async () => {
    if (coldSource) await dropSourceCache(machine.raw);
    else await ddRead(machine.raw);
  };
  const holeSkip = Math.ceil((machine.ranges[1].end + 1) / MiB);
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const v of variants) {
        log(`round ${round}: ${v.name}`);
        const r = results.get(v.name)!;
        const noteRss = (s: Server) => (r.rss = Math.max(r.rss, s.peakRss()));
        await prepareSource();
        r.seq.push(
          await withServer(
            () => start(v),
            async (s) => {
              const x = mbPerSecond(await ddRead(seqFile(v, s), { count: seqMiB }));
              noteRss(s);
              return x;
            },
          ),
        );
        await prepareSource();
        r.random.push(
          await withServer(
            () => start(v),
            async (s) => {
              const { stdout } = await exec(process.execPath, [
                path.join(__dirname, 'random-reads.js'),
                randomFile(v, s),
                String(reads),
                '7',
                JSON.stringify(spans(v)),
              ]);
              const x = JSON.parse(stdout) as { reads: number; seconds: number };
              noteRss(s);
              return x.reads / x.seconds;
            },
          ),
        );
        if (v.server === 'memview') {
          await prepareSource();
          r.hole.push(
            await withServer(
              () => start(v),
              async (s) => {
                const x = mbPerSecond(await ddRead(path.join(s.dir, 'padded.raw'), { skip: holeSkip, count: 1024 }));
                noteRss(s);
                return x;
              },
            ),
          );
        }
      }
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const lines = [
    `| variant | sequential MB/s (${seqMiB} MiB) | random 4 KiB reads/s (${reads}) | 1 GiB hole MB/s | peak RSS MiB |`,
    '|---|---:|---:|---:|---:|',
  ];
  for (const v of variants) {
    const r = results.get(v.name)!;
    const m = (a: number[]) => (a.length ? Math.round(median(a)).toString() : '');
    lines.push(`| ${v.name} | ${m(r.seq)} | ${m(r.random)} | ${m(r.hole)} | ${(r.rss / MiB).toFixed(0)} |`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  fs.writeFileSync(
    path.join(ROOT, 'bench', 'sweep.json'),
    JSON.stringify(
      { date: new Date().toISOString(), loadavg: os.loadavg(), rounds, gib: machine.ramBytes / GiB, results: Object.fromEntries(results) },
      null,
      2,
    ) + '\n',
  );
}

main().catch((e: Error) => {
  process.stderr.write(`sweep: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
