import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bootLayout, GuestResult } from './guest';
import { layoutsFromEnv } from './layouts';
import { runDir, RUNS, SUMMARY } from './paths';

/**
 * Global setup of `npm run test:kernel`: builds (or finds cached) Debian's
 * kernel, LiME and the initramfs, then boots every layout once, taking all
 * acquisitions; the test files only check the files left in RUNS.
 * MEMVIEW_KERNEL_REUSE=1 keeps a previous run's acquisitions (while working
 * on the checks); MEMVIEW_KERNEL_PARALLEL sets how many guests boot at once.
 */
const ROOT = path.resolve(__dirname, '..', '..');

function build(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [path.join(ROOT, 'scripts', 'kernel-build.sh')], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      process.stderr.write(stderr);
      if (err) reject(new Error(`scripts/kernel-build.sh failed: ${err.message}`));
      else resolve(stdout.trim().split('\n').pop()!);
    });
  });
}

/**
 * One run at a time per cache: two runs would boot into the same run directories (and remove each
 * other's). The lock holds the owner's pid; a dead owner's lock is taken over.
 */
async function lockRuns(): Promise<() => void> {
  fs.mkdirSync(RUNS, { recursive: true });
  const lock = path.join(RUNS, '.lock');
  for (let waited = 0; ; waited++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(lock, { force: true });
    } catch {
      const owner = Number(fs.readFileSync(lock, 'utf8'));
      let alive = false;
      try {
        process.kill(owner, 0);
        alive = owner > 0;
      } catch {
        // no such process
      }
      if (!alive) fs.rmSync(lock, { force: true });
      else {
        if (waited % 60 === 0) process.stderr.write(`test:kernel: waiting for the run of pid ${owner} (${lock})\n`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
}

export default async function setup(): Promise<() => void> {
  const unlock = await lockRuns();
  const started = Date.now();
  const buildDir = await build();
  const buildSeconds = (Date.now() - started) / 1000;
  fs.mkdirSync(RUNS, { recursive: true });
  const layouts = layoutsFromEnv();
  const reuse = process.env.MEMVIEW_KERNEL_REUSE === '1';
  const parallel = Math.max(1, Number(process.env.MEMVIEW_KERNEL_PARALLEL ?? 2));
  const results: GuestResult[] = [];
  const queue = [...layouts];
  const worker = async () => {
    for (let l = queue.shift(); l; l = queue.shift()) {
      const resultFile = path.join(runDir(l.name), 'result.json');
      if (reuse && fs.existsSync(resultFile)) {
        results.push(JSON.parse(fs.readFileSync(resultFile, 'utf8')));
        continue;
      }
      process.stderr.write(`test:kernel: booting ${l.name} (${l.about})\n`);
      let r = await bootLayout(l, buildDir, runDir(l.name), ROOT);
      if (!r.booted) {
        // A boot that died before its first acquisition (TCG on a loaded host): once more.
        process.stderr.write(`test:kernel: ${l.name} did not boot (${r.failures[0]}); booting again\n`);
        r = await bootLayout(l, buildDir, runDir(l.name), ROOT);
      }
      process.stderr.write(`test:kernel: ${l.name} ${r.ok ? 'ok' : 'FAILED: ' + r.failures.join('; ')} in ${r.seconds.total.toFixed(0)} s\n`);
      results.push(r);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, layouts.length) }, worker));
  const versions = JSON.parse(fs.readFileSync(path.join(buildDir, 'versions.json'), 'utf8'));
  fs.writeFileSync(
    SUMMARY,
    JSON.stringify({ buildDir, versions, buildSeconds, bootSeconds: (Date.now() - started) / 1000 - buildSeconds, results }, null, 2) + '\n',
  );
  process.stderr.write(`test:kernel: build ${buildSeconds.toFixed(0)} s, boots ${((Date.now() - started) / 1000 - buildSeconds).toFixed(0)} s\n`);
  // Held until the checks are done (vitest calls the returned teardown).
  return unlock;
}
