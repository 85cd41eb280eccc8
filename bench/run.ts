/**
 * `npm run bench`: memview (native backend, and fuse-native as before)
 * against the physical limit (the source file read directly), a trivial
 * fuse-native passthrough of the same file, and a minimal C libfuse 3
 * passthrough with the native backend's settings (bench/c-passthrough.c,
 * compiled here), side by side in one run. Prints a table, writes
 * bench/results.json.
 *
 * Honesty rules: the source is page-cache warm (as the issue asks); every
 * FUSE read is cold for the FUSE layer: each timed read gets a fresh mount,
 * so the kernel has no page of the virtual file cached. No caches are
 * dropped (other processes share this machine). Each figure is the median
 * of --repeat runs.
 *
 * Options: --gib N (RAM of the bench machine, default 2), --repeat N
 * (default 3), --only GROUP[,GROUP] (sequential, hole, random, mount,
 * export, extra, scale), --fresh (rebuild the cached bench machine),
 * --scale-ranges N (RAM ranges of the scale rows' images, default 1,000,000;
 * bench/scale.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NATIVE_TUNING } from '../src/fuse/native-mount';
import { scaleBench } from './scale';
import { iomemText, Range, rangeLength, writeMachine } from '../test/helpers/machine';
import {
  BenchContext,
  BenchMachine,
  BenchRow,
  ddRead,
  GiB,
  mbPerSecond,
  median,
  MEMVIEW,
  MiB,
  ROOT,
  Server,
  buildCPassthrough,
  startCPassthrough,
  startMemview,
  startPassthrough,
  randomReadsPerSecond,
  timeCommand,
  withServer,
} from './common';

/** Bench modules other issues add; each exports bench(ctx). Missing ones are skipped. */
const EXTRA_BENCHES = ['scan', 'avml', 'remote', 'compressed'];

const FOUR_GIB = 4 * GiB;
const RANDOM_READS = 20_000;
const RANDOM_SEED = 7;

interface Args {
  gib: number;
  repeat: number;
  only: Set<string> | null;
  fresh: boolean;
  scaleRanges: number;
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
    scaleRanges: Number(value('--scale-ranges') ?? 1_000_000),
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
  const reusable =
    !fresh && fs.existsSync(raw) && fs.statSync(raw).size === ramBytes && fs.existsSync(iomem) && fs.readFileSync(iomem, 'utf8') === iomemText(ranges);
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

/**
 * Runs every measurement once per round, in turn, for `rounds` rounds, so
 * that load from other processes on this machine hits each alike; ratios
 * are taken within a round, then the median over rounds.
 */
async function interleaved(ctx: BenchContext, items: Record<string, () => Promise<number>>): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = Object.fromEntries(Object.keys(items).map((k) => [k, []]));
  for (let round = 1; round <= ctx.repeat; round++) {
    for (const [key, fn] of Object.entries(items)) {
      ctx.log(`  round ${round}/${ctx.repeat}: ${key}`);
      // Other processes' files push the source out of the page cache now and then: warm it before every figure.
      await warmSource(ctx);
      out[key].push(await fn());
    }
  }
  return out;
}

/** Reads the whole source once so that it is in the page cache ("page cache warm", as the issue asks). */
async function warmSource(ctx: BenchContext): Promise<void> {
  await ddRead(ctx.machine.raw);
}

/** A row for values[key] compared with values[base], round by round; target: ratio >= min (and value >= absolute). */
function compared(
  row: Omit<BenchRow, 'value' | 'baseline' | 'ratio'>,
  values: Record<string, number[]>,
  key: string,
  base: string,
  min?: number,
  absolute?: { value: number; label: string },
): BenchRow {
  const value = median(values[key]);
  const ratio = median(values[key].map((v, i) => v / values[base][i]));
  const r: BenchRow = { ...row, value, baseline: { name: base, value: median(values[base]) }, ratio, samples: values[key], baselineSamples: values[base] };
  if (min === undefined) return r;
  return { ...r, target: `>= ${min} x ${base}${absolute ? ` and >= ${absolute.label}` : ''}`, ok: ratio >= min && (!absolute || value >= absolute.value) };
}

/** Tracks the peak RSS of every memview mount used for reads, per backend. */
class RssWatch {
  readonly peak: Record<string, number> = {};
  note(server: Server, backend: 'native' | 'fuse-native'): void {
    this.peak[backend] = Math.max(this.peak[backend] ?? 0, server.peakRss());
  }
}

/**
 * Server CPU per GiB served (user + system of the FUSE server process while
 * dd reads): the cost of the read path itself, which load from other
 * processes on the machine barely changes, unlike MB/s.
 */
class CpuLog {
  readonly perGiB: Record<string, number[]> = {};
  async measure(key: string, server: Server, read: () => Promise<{ bytes: number; seconds: number }>): Promise<{ bytes: number; seconds: number }> {
    const before = server.cpuSeconds();
    const r = await read();
    const ms = (server.cpuSeconds() - before) * 1000;
    (this.perGiB[key] ??= []).push(ms / (r.bytes / GiB));
    return r;
  }
}

/** A fresh memview mount (cold FUSE page cache), one dd of `file`, MB/s. */
function memviewDd(
  ctx: BenchContext,
  scratch: string,
  rss: RssWatch,
  file: string,
  extra: string[] = [],
  dd: { skip?: number; count?: number } = {},
  cpu?: CpuLog,
  key?: string,
) {
  return () =>
    withServer(
      () => startMemview(ctx.machine.raw, path.join(scratch, 'mnt'), ['--map', ctx.machine.iomem, '--vmcoreinfo', 'off', ...extra]),
      async (s) => {
        const read = () => ddRead(path.join(s.dir, file), dd);
        const r = mbPerSecond(cpu && key ? await cpu.measure(key, s, read) : await read());
        rss.note(s, extra.includes('fuse-native') ? 'fuse-native' : 'native');
        return r;
      },
    );
}

/** A fresh passthrough mount (fuse-native, or the C libfuse 3 one), one dd of the source through it, MB/s. */
function passthroughDd(scratch: string, start: (dir: string) => Promise<Server>, cpu?: CpuLog, key?: string) {
  return () =>
    withServer(
      () => start(path.join(scratch, 'pt')),
      async (s) => {
        const read = () => ddRead(path.join(s.dir, 'machine.raw'));
        return mbPerSecond(cpu && key ? await cpu.measure(key, s, read) : await read());
      },
    );
}

/** The C passthrough with the native backend's settings (request size, readahead, splice). */
function cArgs(directIo = false): string[] {
  const args = ['--max-read', String(NATIVE_TUNING.maxRead), '--readahead-kb', String(NATIVE_TUNING.readaheadKb)];
  if (NATIVE_TUNING.splice === false) args.push('--no-splice');
  if (directIo) args.push('--direct-io');
  return args;
}

const FUSE_NATIVE = ['--backend', 'fuse-native'];
const VIEWS = ['padded.raw', 'memory.lime', 'memory.elf', 'raw.bin'];

async function sequential(ctx: BenchContext, scratch: string, rss: RssWatch, c: string): Promise<BenchRow[]> {
  const { machine, repeat } = ctx;
  ctx.log('sequential: source file (page cache warm)');
  await ddRead(machine.raw); // warm the source
  const source = await repeatMedian(repeat, async () => mbPerSecond(await ddRead(machine.raw)));
  ctx.log('sequential: both passthroughs and every view, interleaved');
  const cpu = new CpuLog();
  const fnPass = (dir: string, args: string[] = []) => startPassthrough(machine.raw, dir, args);
  const cPass = (directIo: boolean) => (dir: string) => startCPassthrough(c, machine.raw, dir, cArgs(directIo));
  const v = await interleaved(ctx, {
    'fuse-native passthrough': passthroughDd(scratch, fnPass, cpu, 'fuse-native passthrough'),
    'C passthrough': passthroughDd(scratch, cPass(false), cpu, 'C passthrough'),
    ...Object.fromEntries(VIEWS.map((view) => [view, memviewDd(ctx, scratch, rss, view, [], {}, cpu, view)])),
    // memview as it was: the fuse-native backend (libfuse 2, reads on the JS thread)
    'padded.raw fuse-native': memviewDd(ctx, scratch, rss, 'padded.raw', FUSE_NATIVE, {}, cpu, 'padded.raw fuse-native'),
    'memory.lime fuse-native': memviewDd(ctx, scratch, rss, 'memory.lime', FUSE_NATIVE, {}, cpu, 'memory.lime fuse-native'),
    // -o direct_io on both sides (memview mount --direct-io): no page cache in the way.
    'C passthrough direct_io': passthroughDd(scratch, cPass(true), cpu, 'C passthrough direct_io'),
    'raw.bin --direct-io': memviewDd(ctx, scratch, rss, 'raw.bin', ['--direct-io'], {}, cpu, 'raw.bin --direct-io'),
  });
  const g = { group: 'sequential', unit: 'MB/s' };
  const rows: BenchRow[] = [
    { ...g, name: 'source file, dd bs=1M (physical limit)', value: source },
    {
      ...g,
      name: 'fuse-native passthrough of the source (libfuse 2, JS reads), dd bs=1M',
      value: median(v['fuse-native passthrough']),
      baseline: { name: 'source', value: source },
      samples: v['fuse-native passthrough'],
    },
    compared(
      {
        ...g,
        name: `C libfuse 3 passthrough of the source (${NATIVE_TUNING.maxRead / 1024} KiB requests, readahead ${NATIVE_TUNING.readaheadKb} KiB, splice), dd bs=1M`,
      },
      v,
      'C passthrough',
      'fuse-native passthrough',
    ),
  ];
  for (const view of VIEWS) {
    const strict = view === 'padded.raw' || view === 'memory.lime';
    rows.push(compared({ ...g, name: `${view} via memview native, dd bs=1M` }, v, view, 'fuse-native passthrough', strict ? 2.3 : undefined));
    rows.push(compared({ ...g, name: `${view} via memview native vs the C passthrough` }, v, view, 'C passthrough', strict ? 0.9 : undefined));
  }
  rows.push(
    compared({ ...g, name: 'padded.raw via memview fuse-native (before), dd bs=1M' }, v, 'padded.raw fuse-native', 'fuse-native passthrough'),
    compared({ ...g, name: 'memory.lime via memview fuse-native (before), dd bs=1M' }, v, 'memory.lime fuse-native', 'fuse-native passthrough'),
    compared({ ...g, name: 'C passthrough with direct_io, dd bs=1M' }, v, 'C passthrough direct_io', 'fuse-native passthrough'),
    compared({ ...g, name: 'raw.bin via memview native --direct-io, dd bs=1M' }, v, 'raw.bin --direct-io', 'C passthrough direct_io', 0.9),
    // The cost of the read path, nearly independent of other load: server CPU per GiB served.
    {
      group: 'cpu',
      name: 'fuse-native passthrough server CPU per GiB served',
      value: median(cpu.perGiB['fuse-native passthrough']),
      unit: 'ms/GiB',
      samples: cpu.perGiB['fuse-native passthrough'],
    },
    compared({ group: 'cpu', name: 'C passthrough server CPU per GiB served', unit: 'ms/GiB' }, cpu.perGiB, 'C passthrough', 'fuse-native passthrough'),
  );
  for (const view of ['padded.raw', 'memory.lime']) {
    const before = `${view} fuse-native`;
    rows.push({
      group: 'cpu',
      name: `memview fuse-native (before) server CPU per GiB of ${view}`,
      value: median(cpu.perGiB[before]),
      unit: 'ms/GiB',
      samples: cpu.perGiB[before],
    });
    const r = compared({ group: 'cpu', name: `memview native server CPU per GiB of ${view}`, unit: 'ms/GiB' }, cpu.perGiB, view, before);
    rows.push({ ...r, target: `<= 0.5 x ${before}`, ok: r.ratio! <= 0.5 });
  }
  for (const view of ['memory.elf', 'raw.bin'])
    rows.push(compared({ group: 'cpu', name: `memview native server CPU per GiB of ${view}`, unit: 'ms/GiB' }, cpu.perGiB, view, 'C passthrough'));
  rows.push(
    compared(
      { group: 'cpu', name: 'memview native --direct-io server CPU per GiB of raw.bin', unit: 'ms/GiB' },
      cpu.perGiB,
      'raw.bin --direct-io',
      'C passthrough direct_io',
    ),
  );
  return rows;
}

async function hole(ctx: BenchContext, scratch: string, rss: RssWatch): Promise<BenchRow[]> {
  const { machine } = ctx;
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
  const v = await interleaved(ctx, {
    default: memviewDd(ctx, scratch, rss, 'padded.raw', [], { skip, count }),
    'direct-io': memviewDd(ctx, scratch, rss, 'padded.raw', ['--direct-io'], { skip, count }),
    'fuse-native': memviewDd(ctx, scratch, rss, 'padded.raw', FUSE_NATIVE, { skip, count }),
  });
  const name = `${(count / 1024).toFixed(1)} GiB hole of padded.raw`;
  const row = (label: string, key: string): BenchRow => {
    const value = median(v[key]);
    return { group: 'hole', name: `${name}${label}, dd bs=1M`, value, unit: 'MB/s', target: '>= 2000 MB/s', ok: value >= 2000, samples: v[key] };
  };
  return [
    row(', memview native', 'default'),
    row(', memview native --direct-io', 'direct-io'),
    { ...row(', memview fuse-native (before)', 'fuse-native'), target: undefined, ok: undefined },
  ];
}

async function random(ctx: BenchContext, scratch: string, rss: RssWatch, c: string): Promise<BenchRow[]> {
  const { machine } = ctx;
  ctx.log(`random: ${RANDOM_READS} x 4 KiB, both passthroughs and padded.raw on both backends, interleaved`);
  const ram: [number, number][] = machine.ranges.map((r) => [r.start, rangeLength(r)]);
  const whole: [number, number][] = [[0, machine.ramBytes]];
  const padded = (backend: string[]) => () =>
    withServer(
      () => startMemview(machine.raw, path.join(scratch, 'mnt'), ['--map', machine.iomem, '--vmcoreinfo', 'off', ...backend]),
      async (s) => {
        const r = await randomReadsPerSecond(path.join(s.dir, 'padded.raw'), RANDOM_READS, RANDOM_SEED, ram);
        rss.note(s, backend.length ? 'fuse-native' : 'native');
        return r;
      },
    );
  const v = await interleaved(ctx, {
    'fuse-native passthrough': () =>
      withServer(
        () => startPassthrough(machine.raw, path.join(scratch, 'pt')),
        (s) => randomReadsPerSecond(path.join(s.dir, 'machine.raw'), RANDOM_READS, RANDOM_SEED, whole),
      ),
    'C passthrough': () =>
      withServer(
        () => startCPassthrough(c, machine.raw, path.join(scratch, 'pt'), cArgs()),
        (s) => randomReadsPerSecond(path.join(s.dir, 'machine.raw'), RANDOM_READS, RANDOM_SEED, whole),
      ),
    'padded.raw': padded([]),
    'padded.raw fuse-native': padded(FUSE_NATIVE),
  });
  const g = { group: 'random', unit: 'reads/s' };
  return [
    {
      ...g,
      name: `fuse-native passthrough, ${RANDOM_READS} random 4 KiB reads`,
      value: median(v['fuse-native passthrough']),
      samples: v['fuse-native passthrough'],
    },
    compared({ ...g, name: `C passthrough, ${RANDOM_READS} random 4 KiB reads` }, v, 'C passthrough', 'fuse-native passthrough'),
    compared({ ...g, name: `padded.raw via memview native, ${RANDOM_READS} random 4 KiB reads in RAM` }, v, 'padded.raw', 'fuse-native passthrough', 2),
    compared({ ...g, name: `padded.raw via memview native vs the C passthrough, random 4 KiB reads` }, v, 'padded.raw', 'C passthrough'),
    compared(
      { ...g, name: `padded.raw via memview fuse-native (before), ${RANDOM_READS} random 4 KiB reads in RAM` },
      v,
      'padded.raw fuse-native',
      'fuse-native passthrough',
    ),
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
    repeatMedian(repeat, () =>
      withServer(
        () => startMemview(raw, path.join(scratch, 'mnt'), ['--map', iomem, ...extra]),
        async (s) => s.readySeconds,
      ),
    );
  const sparse = sparseMachine(path.join(scratch, 'sparse'), 1);
  const note = `includes Node start-up (${nodeStart.toFixed(3)} s for node -e 0)`;
  const rows: BenchRow[] = [];
  // The default mount searches RAM for the kernel's VMCOREINFO note (memory.elf, vmcore); off skips it.
  for (const [label, extra] of [
    ['', []],
    [' --vmcoreinfo off', ['--vmcoreinfo', 'off']],
  ] as [string, string[]][]) {
    const small = await time(machine.raw, machine.iomem, extra);
    const huge = await time(sparse.raw, sparse.iomem, extra);
    rows.push(
      {
        group: 'mount',
        name: `memview mount${label}, ${(machine.ramBytes / GiB).toFixed(1)} GiB source, spawn to mounted`,
        value: small,
        unit: 's',
        target: '< 1 s',
        ok: small < 1,
        note,
      },
      { group: 'mount', name: `memview mount${label}, sparse 1 TiB source, spawn to mounted`, value: huge, unit: 's', target: '< 1 s', ok: huge < 1, note },
    );
  }
  fs.rmSync(path.join(scratch, 'sparse'), { recursive: true, force: true });
  return rows;
}

async function exportVsCp(ctx: BenchContext, scratch: string): Promise<BenchRow[]> {
  const { machine } = ctx;
  ctx.log('export --view padded vs cp, interleaved');
  const out = path.join(scratch, 'out');
  const timed = (cmd: string, args: string[]) => async () => {
    fs.rmSync(out, { force: true });
    return timeCommand(cmd, args);
  };
  const v = await interleaved(ctx, {
    cp: timed('cp', [machine.raw, out]),
    export: timed(process.execPath, [MEMVIEW, 'export', machine.raw, '--map', machine.iomem, '--view', 'padded', '-o', out]),
  });
  fs.rmSync(out, { force: true });
  return [
    { group: 'export', name: 'cp of the source', value: median(v.cp), unit: 's' },
    compared(
      { group: 'export', name: 'memview export --view padded (sparse output), wall time', unit: 's', note: 'padded is the source plus holes; holes are seeks' },
      v,
      'export',
      'cp',
    ),
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
  return r.value >= 100 ? Math.round(r.value).toString() : r.value.toFixed(2);
}

/** The results as a Markdown table (the README's Performance section pastes it). */
export function markdownTable(rows: readonly BenchRow[]): string {
  const lines = ['| measurement | value | vs | ratio | target | met |', '|---|---:|---|---:|---|---|'];
  for (const r of rows) {
    const ratio = r.ratio !== undefined ? r.ratio.toFixed(2) : r.baseline ? (r.value / r.baseline.value).toFixed(2) : '';
    const met = r.ok === undefined ? '' : r.ok ? 'yes' : 'no';
    lines.push(
      `| ${r.name} | ${formatValue(r)} ${r.unit} | ${r.baseline ? `${r.baseline.name} ${formatValue({ ...r, value: r.baseline.value })}` : ''} | ${ratio} | ${r.target ?? ''} | ${met} |`,
    );
  }
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (m: string) => process.stderr.write(`bench: ${m}\n`);
  const want = (g: string) => !args.only || args.only.has(g);
  // The scale rows need neither the bench machine nor the C passthrough: `--only scale` builds neither.
  const machine = ['sequential', 'hole', 'random', 'mount', 'export', 'extra'].some(want) ? benchMachine(args.gib, args.fresh, log) : undefined;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'memview-bench-'));
  const ctx = { dir: scratch, machine, repeat: args.repeat, log } as BenchContext;
  const rss = new RssWatch();
  const rows: BenchRow[] = [];
  try {
    const c = machine ? await buildCPassthrough() : '';
    if (want('sequential')) rows.push(...(await sequential(ctx, scratch, rss, c)));
    if (want('hole')) rows.push(...(await hole(ctx, scratch, rss)));
    if (want('random')) rows.push(...(await random(ctx, scratch, rss, c)));
    const before = rss.peak['fuse-native'];
    if (before) rows.push({ group: 'rss', name: 'peak RSS of a memview fuse-native mount (before) during the reads above', value: before / MiB, unit: 'MiB' });
    if (rss.peak.native) {
      const row: BenchRow = {
        group: 'rss',
        name: 'peak RSS of a memview native mount during the reads above',
        value: rss.peak.native / MiB,
        unit: 'MiB',
        target: '< 150 MB (143 MiB)',
        ok: rss.peak.native < 150e6,
      };
      if (before)
        Object.assign(row, {
          baseline: { name: 'fuse-native', value: before / MiB },
          target: '<= 1.1 x fuse-native and < 150 MB',
          ok: rss.peak.native <= 1.1 * before && rss.peak.native < 150e6,
        });
      rows.push(row);
    }
    if (want('mount')) rows.push(...(await mountTime(ctx, scratch)));
    if (want('export')) rows.push(...(await exportVsCp(ctx, scratch)));
    if (want('extra')) rows.push(...(await extras(ctx)));
    if (want('scale')) rows.push(...(await scaleBench({ ranges: args.scaleRanges, repeat: args.repeat, dir: scratch, log })));
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const table = markdownTable(rows);
  process.stdout.write('\n' + table);
  const results = {
    date: new Date().toISOString(),
    host: {
      kernel: os.release(),
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      memoryGiB: Math.round(os.totalmem() / GiB),
      node: process.version,
      loadavg: os.loadavg(),
    },
    machine: machine && { ramBytes: machine.ramBytes, paddedSize: machine.paddedSize, ranges: machine.ranges },
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
