/**
 * Preloaded (`node -r`) into a command the bench measures: at exit, writes
 * the process's peak resident set (VmHWM, bytes) to
 * $MEMVIEW_BENCH_MAX_RSS_FILE. Not getrusage's ru_maxrss: that keeps the
 * high-water mark from before exec, the forking bench's own.
 */
import * as fs from 'node:fs';

const out = process.env.MEMVIEW_BENCH_MAX_RSS_FILE;
if (out) {
  process.on('exit', () => {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    fs.writeFileSync(out, String(m ? Number(m[1]) * 1024 : 0));
  });
}
