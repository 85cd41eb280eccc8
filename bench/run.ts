/**
 * `npm run bench`: memview against the physical limit (the source file
 * read directly) and the ceiling of this stack (a trivial fuse-native
 * passthrough of the same file), side by side in one run. Prints a table,
 * writes bench/results.json.
 *
 * Honesty rules: the source is page-cache warm (as the issue asks); every
 * FUSE read is cold for the FUSE layer: each timed read gets a fresh mount,
 * so the kernel has no page of the virtual file cached. No caches are
 * dropped (other processes share this machine). Each figure is the median
 * of --repeat runs.
 *
 * Options: --gib N (RAM of the bench machine, default 2), --repeat N
 * (default 3), --only GROUP[,GROUP] (sequential, hole, random, mount,
 * export, extra), --fresh (rebuild the cached bench machine).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { iomemText, Range, rangeLength, writeMachine } from '../test/helpers/machine';
import {
  BenchContext,
  BenchMachine,
  BenchRow,
  ddRead,
  exec,
  GiB,
  mbPerSecond,
  median,
  MEMVIEW,
  MiB,
  ROOT,
  Server,
  startMemview,
  startPassthrough,
  timeCommand,
  withServer,
} from './common';

/** Bench modules other issues add; each exports bench(ctx). Missing ones are skipped. */
const EXTRA_BENCHES = ['scan', 'avml'];

const FOUR_GIB = 4 * GiB;
const RANDOM_READS = 20_000;
const RANDOM_SEED = 7;

interface Args {
  gib: number;
  repeat: number;
  only: Set<string> | null;
  fresh: boolean;
}

function parseArgs(argv: string[]): Args {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const only = value('--only');
  return {
    gib: Number(value('--gib') ?? 2),
    repeat: Number(value('--repeat') ?? 3),
    only: only ? new Set(only.split(',')) : null,
    fresh: argv.includes('--fresh'),
  };
}

/**
 * A realistic map: the low 640 KiB less the first page, RAM from 1 MiB up
 * to the PCI hole, a 3 GiB hole below 4 GiB, the rest of the RAM above 4 GiB.
 */
export function benchRanges(gib: number): Range[] {
  const low = Math.min(gib / 2, 1) * GiB;
  return [
    { start: 0x1000, end: 0x9efff },
    { start: 0x100000, end: low - 1 },
    { start: FOUR_GIB, end: FOUR_GIB + (gib * GiB - low) - 1 },
  ];
}

/** Builds (or reuses, keyed by its ranges) the bench machine in the temp directory. */
export function benchMachine(gib: number, fresh: boolean, log: (m: string) => void): BenchMachine {
  const ranges = benchRanges(gib);
  const dir = path.join(os.tmpdir(), `memview-bench-machine-${gib}g`);
  const ramBytes = ranges.reduce((n, r) => n + rangeLength(r), 0);
  const raw = path.join(dir, 'machine.raw');
  const iomem = path.join(dir, 'machine.iomem');
  const reusable = !fresh && fs.existsSync(raw) && fs.statSync(raw).size === ramBytes && fs.existsSync(iomem) && fs.readFileSync(iomem, 'utf8') === iomemText(ranges);
  if (!reusable) {
    log(`building a ${gib} GiB machine in ${dir} …`);
    fs.rmSync(dir, { recursive: true, force: true });
    writeMachine(dir, ranges, 0x5eed);
  }
  return { raw, iomem, ranges, ramBytes, paddedSize: ranges[ranges.length - 1].end + 1 };
}

async function repeatMedian(n: number, fn: () => Promise<number>): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < n; i++) values.push(await fn());
  return median(values);
}

function ratioRow(row: BenchRow, min: number, absolute?: { value: number; label: string }): BenchRow {
  const ratio = row.baseline ? row.value / row.baseline.value : NaN;
  const okRatio = ratio >= min;
  const okAbs = absolute ? row.value >= absolute.value : true;
  return { ...row, target: `>= ${min} x ${row.baseline?.name}${absolute ? ` and >= ${absolute.label}` : ''}`, ok: okRatio && okAbs };
}

/** Tracks the peak RSS of every memview mount used for reads. */
class RssWatch {
  peak = 0;
  note(server: Server): void {
    this.peak = Math.max(this.peak, server.peakRss());
  }
}

async function sequential(ctx: BenchContext, scratch: string, rss: RssWatch): Promise<BenchRow[]> {
  const { machine, repeat } = ctx;
  const rows: BenchRow[] = [];
  ctx.log('sequential: source file (page cache warm)');
  await ddRead(machine.raw); // warm the source
  const source = await repeatMedian(repeat, async () => mbPerSecond(await ddRead(machine.raw)));
  rows.push({ group: 'sequential', name: 'source file, dd bs=1M (physical limit)', value: source, unit: 'MB/s' });

  ctx.log('sequential: fuse-native passthrough');
  const pt = await repeatMedian(repeat, () =>
    withServer(() => startPassthrough(machine.raw, path.join(scratch, 'pt')), async (s) => mbPerSecond(await ddRead(path.join(s.dir, 'machine.raw')))),
  );
  const passthrough = { name: 'passthrough', value: pt };
  rows.push({ group: 'sequential', name: 'passthrough of the source, dd bs=1M (stack ceiling)', value: pt, unit: 'MB/s', baseline: { name: 'source', value: source } });

  for (const view of ['padded.raw', 'memory.lime', 'memory.elf', 'raw.bin']) {
    ctx.log(`sequential: ${view}`);
    const v = await repeatMedian(repeat, () =>
      withServer(() => startMemview(machine.raw, path.join(scratch, 'mnt'), ['--map', machine.iomem]), async (s) => {
        const r = mbPerSecond(await ddRead(path.join(s.dir, view)));
        rss.note(s);
        return r;
      }),
    );
    rows.push(ratioRow({ group: 'sequential', name: `${view} via memview, dd bs=1M`, value: v, unit: 'MB/s', baseline: passthrough }, 0.9, { value: 1000, label: '1000 MB/s' }));
  }

  // The same with -o direct_io on both sides (memview mount --direct-io): no page cache in the way.
  ctx.log('sequential: direct_io passthrough and raw.bin');
  const ptDirect = await repeatMedian(repeat, () =>
    withServer(() => startPassthrough(machine.raw, path.join(scratch, 'pt'), ['--tuning', '{"directIo":true}']), async (s) => mbPerSecond(await ddRead(path.join(s.dir, 'machine.raw')))),
  );
  rows.push({ group: 'sequential', name: 'passthrough with direct_io, dd bs=1M', value: ptDirect, unit: 'MB/s', baseline: { name: 'source', value: source } });
  const direct = await repeatMedian(repeat, () =>
    withServer(() => startMemview(machine.raw, path.join(scratch, 'mnt'), ['--map', machine.iomem, '--direct-io']), async (s) => {
      const r = mbPerSecond(await ddRead(path.join(s.dir, 'raw.bin')));
      rss.note(s);
      return r;
    }),
  );
  rows.push(ratioRow({ group: 'sequential', name: 'raw.bin via memview --direct-io, dd bs=1M', value: direct, unit: 'MB/s', baseline: { name: 'passthrough direct_io', value: ptDirect } }, 0.9, { value: 1000, label: '1000 MB/s' }));

  // What limits everything above: requests answered with no I/O at all (libfuse 2 sends <= 128 KiB each).
  ctx.log('sequential: no-I/O passthrough (request ceiling)');
  const ceiling = await repeatMedian(repeat, () =>
    withServer(() => startPassthrough(machine.raw, path.join(scratch, 'pt'), ['--zeros']), async (s) => mbPerSecond(await ddRead(path.join(s.dir, 'machine.raw')))),
  );
  rows.push({ group: 'sequential', name: 'passthrough answering zeros without I/O (request ceiling), dd bs=1M', value: ceiling, unit: 'MB/s', note: `${Math.round((ceiling * 1e6) / 131072)} requests/s of 128 KiB` });
  return rows;
}

async function hole(ctx: BenchContext, scratch: string, rss: RssWatch): Promise<BenchRow[]> {
  const { machine, repeat } = ctx;
  // The largest gap between RAM ranges, in whole MiB.
  let best = { start: 0, length: 0 };
  for (let i = 1; i < machine.ranges.length; i++) {
    const start = machine.ranges[i - 1].end + 1;
    const length = machine.ranges[i].start - start;
    if (length > best.length) best = { start, length };
  }
  const skip = Math.ceil(best.start / MiB);
  const count = Math.floor((best.start + best.length) / MiB) - skip;
  ctx.log(`hole: ${count} MiB of padded.raw`);
  const holeRead = (extra: string[]) =>
    repeatMedian(repeat, () =>
      withServer(() => startMemview(machine.raw, path.join(scratch, 'mnt'), ['--map', machine.iomem, ...extra]), async (s) => {
        const r = mbPerSecond(await ddRead(path.join(s.dir, 'padded.raw'), { skip, count }));
        rss.note(s);
        return r;
      }),
    );
  const v = await holeRead([]);
  const direct = await holeRead(['--direct-io']);
  const name = `${(count / 1024).toFixed(1)} GiB hole of padded.raw`;
  return [
    { group: 'hole', name: `${name}, dd bs=1M`, value: v, unit: 'MB/s', target: '>= 2000 MB/s', ok: v >= 2000 },
    { group: 'hole', name: `${name}, memview --direct-io, dd bs=1M`, value: direct, unit: 'MB/s', target: '>= 2000 MB/s', ok: direct >= 2000 },
  ];
}

async function randomReads(file: string, spans: [number, number][]): Promise<number> {
  const { stdout } = await exec(process.execPath, [path.join(__dirname, 'random-reads.js'), file, String(RANDOM_READS), String(RANDOM_SEED), JSON.stringify(spans)]);
  const r = JSON.parse(stdout) as { reads: number; seconds: number };
  return r.reads / r.seconds;
}

async function random(ctx: BenchContext, scratch: string, rss: RssWatch): Promise<BenchRow[]> {
  const { machine, repeat } = ctx;
  ctx.log(`random: ${RANDOM_READS} x 4 KiB, passthrough`);
  const pt = await repeatMedian(repeat, () =>
    withServer(() => startPassthrough(machine.raw, path.join(scratch, 'pt')), (s) => randomReads(path.join(s.dir, 'machine.raw'), [[0, machine.ramBytes]])),
  );
  ctx.log(`random: ${RANDOM_READS} x 4 KiB, padded.raw`);
  const ram: [number, number][] = machine.ranges.map((r) => [r.start, rangeLength(r)]);
  const mv = await repeatMedian(repeat, () =>
    withServer(() => startMemview(machine.raw, path.join(scratch, 'mnt'), ['--map', machine.iomem]), async (s) => {
      const r = await randomReads(path.join(s.dir, 'padded.raw'), ram);
      rss.note(s);
      return r;
    }),
  );
  return [
    { group: 'random', name: `passthrough, ${RANDOM_READS} random 4 KiB reads`, value: pt, unit: 'reads/s' },
    ratioRow({ group: 'random', name: `padded.raw via memview, ${RANDOM_READS} random 4 KiB reads in RAM`, value: mv, unit: 'reads/s', baseline: { name: 'passthrough', value: pt } }, 0.8),
  ];
}

/** A sparse raw image of `tib` TiB with a map of several ranges (nothing read at mount time). */
function sparseMachine(dir: string, tib: number): { raw: string; iomem: string } {
  const total = tib * 1024 * GiB;
  const ranges: Range[] = [
    { start: 0x1000, end: 0x9efff },
    { start: 0x100000, end: 0xbfffffff },
    { start: FOUR_GIB, end: 0 },
  ];
  const below = rangeLength(ranges[0]) + rangeLength(ranges[1]);
  ranges[2].end = FOUR_GIB + (total - below) - 1;
  fs.mkdirSync(dir, { recursive: true });
  const raw = path.join(dir, 'sparse.raw');
  const iomem = path.join(dir, 'sparse.iomem');
  fs.closeSync(fs.openSync(raw, 'w'));
  fs.truncateSync(raw, total);
  fs.writeFileSync(iomem, iomemText(ranges));
  return { raw, iomem };
}

async function mountTime(ctx: BenchContext, scratch: string): Promise<BenchRow[]> {
  const { machine, repeat } = ctx;
  ctx.log('mount time');
  const nodeStart = await repeatMedian(repeat, () => timeCommand(process.execPath, ['-e', '0']));
  const time = (raw: string, iomem: string, extra: string[] = []) =>
    repeatMedian(repeat, () => withServer(() => startMemview(raw, path.join(scratch, 'mnt'), ['--map', iomem, ...extra]), async (s) => s.readySeconds));
  const sparse = sparseMachine(path.join(scratch, 'sparse'), 1);
  const note = `includes Node start-up (${nodeStart.toFixed(3)} s for node -e 0)`;
  const rows: BenchRow[] = [];
  // The default mount searches RAM for the kernel's VMCOREINFO note (memory.elf, vmcore); off skips it.
  for (const [label, extra] of [['', []], [' --vmcoreinfo off', ['--vmcoreinfo', 'off']]] as [string, string[]][]) {
    const small = await time(machine.raw, machine.iomem, extra);
    const huge = await time(sparse.raw, sparse.iomem, extra);
    rows.push(
      { group: 'mount', name: `memview mount${label}, ${(machine.ramBytes / GiB).toFixed(1)} GiB source, spawn to mounted`, value: small, unit: 's', target: '< 1 s', ok: small < 1, note },
      { group: 'mount', name: `memview mount${label}, sparse 1 TiB source, spawn to mounted`, value: huge, unit: 's', target: '< 1 s', ok: huge < 1, note },
    );
  }
  fs.rmSync(path.join(scratch, 'sparse'), { recursive: true, force: true });
  return rows;
}

async function exportVsCp(ctx: BenchContext, scratch: string): Promise<BenchRow[]> {
  const { machine, repeat } = ctx;
  ctx.log('export --view padded vs cp');
  const out = path.join(scratch, 'out');
  const cp = await repeatMedian(repeat, async () => {
    fs.rmSync(out, { force: true });
    return timeCommand('cp', [machine.raw, out]);
  });
  const exp = await repeatMedian(repeat, async () => {
    fs.rmSync(out, { force: true });
    return timeCommand(process.execPath, [MEMVIEW, 'export', machine.raw, '--map', machine.iomem, '--view', 'padded', '-o', out]);
  });
  fs.rmSync(out, { force: true });
  return [
    { group: 'export', name: 'cp of the source', value: cp, unit: 's' },
    { group: 'export', name: 'memview export --view padded (sparse output)', value: exp, unit: 's', baseline: { name: 'cp', value: cp }, note: 'padded is the source plus holes; holes are seeks' },
  ];
}

async function extras(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const name of EXTRA_BENCHES) {
    const file = path.join(__dirname, `${name}.js`);
    if (!fs.existsSync(file)) continue;
    ctx.log(`extra: bench/${name}`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(file) as { bench?: (c: BenchContext) => Promise<BenchRow[]> };
    if (typeof mod.bench !== 'function') {
      ctx.log(`  bench/${name} exports no bench(ctx); skipped`);
      continue;
    }
    rows.push(...(await mod.bench(ctx)));
  }
  return rows;
}

function formatValue(r: BenchRow): string {
  if (r.unit === 's') return r.value.toFixed(3);
  if (r.unit === 'MiB') return r.value.toFixed(1);
  return Math.round(r.value).toString();
}

/** The results as a Markdown table (the README's Performance section pastes it). */
export function markdownTable(rows: readonly BenchRow[]): string {
  const lines = ['| measurement | value | vs | ratio | target | met |', '|---|---:|---|---:|---|---|'];
  for (const r of rows) {
    const ratio = r.baseline ? (r.value / r.baseline.value).toFixed(2) : '';
    const met = r.ok === undefined ? '' : r.ok ? 'yes' : 'no';
    lines.push(`| ${r.name} | ${formatValue(r)} ${r.unit} | ${r.baseline ? `${r.baseline.name} ${formatValue({ ...r, value: r.baseline.value })}` : ''} | ${ratio} | ${r.target ?? ''} | ${met} |`);
  }
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (m: string) => process.stderr.write(`bench: ${m}\n`);
  const machine = benchMachine(args.gib, args.fresh, log);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'memview-bench-'));
  const ctx: BenchContext = { dir: scratch, machine, repeat: args.repeat, log };
  const want = (g: string) => !args.only || args.only.has(g);
  const rss = new RssWatch();
  const rows: BenchRow[] = [];
  try {
    if (want('sequential')) rows.push(...(await sequential(ctx, scratch, rss)));
    if (want('hole')) rows.push(...(await hole(ctx, scratch, rss)));
    if (want('random')) rows.push(...(await random(ctx, scratch, rss)));
    if (rss.peak > 0) {
      const mib = rss.peak / MiB;
      rows.push({ group: 'rss', name: 'peak RSS of the memview mount process during the reads above', value: mib, unit: 'MiB', target: '< 150 MB (143 MiB)', ok: rss.peak < 150e6 });
    }
    if (want('mount')) rows.push(...(await mountTime(ctx, scratch)));
    if (want('export')) rows.push(...(await exportVsCp(ctx, scratch)));
    if (want('extra')) rows.push(...(await extras(ctx)));
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const table = markdownTable(rows);
  process.stdout.write('\n' + table);
  const results = {
    date: new Date().toISOString(),
    host: { kernel: os.release(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / GiB), node: process.version, loadavg: os.loadavg() },
    machine: { ramBytes: machine.ramBytes, paddedSize: machine.paddedSize, ranges: machine.ranges },
    repeat: args.repeat,
    rows,
  };
  const out = path.join(ROOT, 'bench', 'results.json');
  fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
  process.stderr.write(`bench: wrote ${out}\n`);
}

if (require.main === module) {
  main().catch((e: Error) => {
    process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
    process.exit(1);
  });
}
