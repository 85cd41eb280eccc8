/**
 * `npm run stress`: 8 reader processes for 60 s at random offsets and
 * lengths over every file of one mount, each byte compared with a
 * reference; the mount process's RSS sampled throughout; afterwards the
 * mount must still serve and the source must be unchanged.
 *
 * References: padded.raw and memory.lime come from the independent
 * reference writers in test/helpers/machine.ts, raw.bin is the raw source
 * itself; every other file (ELF cores, helpers, text) is compared with
 * `memview export` of the same view, i.e. FUSE under concurrent load
 * against the engine read alone.
 *
 * Options: --seconds N (60), --readers N (8), --mib N (RAM of the machine,
 * 192), --direct-io (stress a --direct-io mount). Exit 0 when every check
 * passed, 1 otherwise.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expectedLime, expectedPadded, fileSha256, Range, writeChunks, writeMachine } from '../test/helpers/machine';
import { exec, MEMVIEW, MiB, startMemview } from './common';

const RSS_LIMIT = 150e6;

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

/** RAM below the 4 GiB hole and above it, so padded.raw has a ~3.8 GiB hole and offsets past 4 GiB. */
function stressRanges(mib: number): Range[] {
  const high = Math.floor(mib / 3) * MiB;
  return [
    { start: 0x1000, end: 0x9fbff },
    { start: 0x100000, end: 0x100000 + (mib * MiB - high) - 1 },
    { start: 0x100000000, end: 0x100000000 + high - 1 },
  ];
}

interface ReaderResult {
  reads: number;
  bytes: number;
  mismatches: number;
  first: string | null;
}

function runReader(config: object): Promise<ReaderResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'stress-reader.js'), JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as ReaderResult) : reject(new Error(`stress reader exited ${code}: ${err.trim()}`))));
  });
}

function vmRss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  const seconds = arg('--seconds', 60);
  const readers = arg('--readers', 8);
  const mib = arg('--mib', 192);
  const directIo = process.argv.includes('--direct-io');
  const log = (m: string) => process.stderr.write(`stress: ${m}\n`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memview-stress-'));
  let ok = true;
  const fail = (m: string) => {
    ok = false;
    log(`FAIL: ${m}`);
  };
  try {
    const ranges = stressRanges(mib);
    const m = writeMachine(path.join(dir, 'src'), ranges, 0x5175);
    const sourceSha = fileSha256(m.raw);
    const refs = path.join(dir, 'refs');
    fs.mkdirSync(refs);
    writeChunks(path.join(refs, 'padded.raw'), expectedPadded(ranges, m.salt));
    writeChunks(path.join(refs, 'memory.lime'), expectedLime(ranges, m.salt));

    // The VMCOREINFO scan is off: its timing lands in info.json, which would then differ from the reference.
    const sourceArgs = ['--map', m.iomem, '--vmcoreinfo', 'off'];
    const { stdout } = await exec(process.execPath, [MEMVIEW, 'info', m.raw, ...sourceArgs, '--json']);
    const views = (JSON.parse(stdout) as { views: { name: string; size: number }[] }).views;
    const files: { name: string; ref: string; size: number }[] = [];
    for (const v of views) {
      let ref = path.join(refs, v.name);
      if (v.name === 'raw.bin') ref = m.raw;
      else if (!fs.existsSync(ref)) {
        fs.mkdirSync(path.dirname(ref), { recursive: true });
        await exec(process.execPath, [MEMVIEW, 'export', m.raw, ...sourceArgs, '--view', v.name, '-o', ref]);
      }
      if (fs.statSync(ref).size !== v.size) fail(`${v.name}: reference is ${fs.statSync(ref).size} bytes, the view ${v.size}`);
      files.push({ name: v.name, ref, size: v.size });
    }

    const mnt = path.join(dir, 'mnt');
    const server = await startMemview(m.raw, mnt, [...sourceArgs, ...(directIo ? ['--direct-io'] : [])]);
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, vmRss(server.pid))), 200);
    let results: ReaderResult[] = [];
    try {
      log(`${readers} readers x ${seconds} s over ${files.length} files (${files.map((f) => f.name).join(', ')})${directIo ? ', --direct-io' : ''}`);
      const config = (seed: number) => ({ seconds, seed, files: files.map((f) => ({ mount: path.join(mnt, f.name), ref: f.ref, size: f.size })) });
      results = await Promise.all(Array.from({ length: readers }, (_, i) => runReader(config(1000 + i))));
      clearInterval(sampler);
      peakRss = Math.max(peakRss, server.peakRss());
      // Still serving: every file's size, and its last bytes, read by a fresh process.
      for (const f of files) {
        const tail = path.join(dir, 'tail');
        await exec('dd', [`if=${path.join(mnt, f.name)}`, `of=${tail}`, 'bs=1', `skip=${Math.max(0, f.size - 100)}`, 'status=none']);
        const want = Buffer.alloc(Math.min(100, f.size));
        const fd = fs.openSync(f.ref, 'r');
        fs.readSync(fd, want, 0, want.length, Math.max(0, f.size - 100));
        fs.closeSync(fd);
        if (!fs.readFileSync(tail).equals(want)) fail(`${f.name}: last bytes differ after the stress`);
      }
    } finally {
      clearInterval(sampler);
      await server.stop();
    }
    const total = results.reduce((a, r) => ({ reads: a.reads + r.reads, bytes: a.bytes + r.bytes, mismatches: a.mismatches + r.mismatches }), {
      reads: 0,
      bytes: 0,
      mismatches: 0,
    });
    const firstMismatch = results.find((r) => r.first)?.first;
    if (total.mismatches > 0) fail(`${total.mismatches} mismatching reads; first: ${firstMismatch}`);
    if (total.reads === 0) fail('no reads completed');
    if (peakRss >= RSS_LIMIT) fail(`peak RSS ${(peakRss / MiB).toFixed(1)} MiB is not under 150 MB`);
    if (fileSha256(m.raw) !== sourceSha) fail('the source changed');
    const summary = {
      readers,
      seconds,
      directIo,
      files: files.length,
      reads: total.reads,
      mib: +(total.bytes / MiB).toFixed(1),
      readsPerSecond: Math.round(total.reads / seconds),
      mismatches: total.mismatches,
      peakRssMiB: +(peakRss / MiB).toFixed(1),
      stillServing: ok,
      sourceUnchanged: fileSha256(m.raw) === sourceSha,
    };
    process.stdout.write(JSON.stringify(summary) + '\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.exitCode = ok ? 0 : 1;
}

main().catch((e: Error) => {
  process.stderr.write(`stress: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
