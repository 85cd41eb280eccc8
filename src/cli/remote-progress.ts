import { RemoteStats } from '../io/remote-source';

const MiB = 1024 * 1024;
/** A read that ends sooner needs no progress line. */
const DELAY_MS = 1000;
const EVERY_MS = 500;

/**
 * While a long remote read runs (a scan at open, an export), shows on a
 * terminal one updating line: bytes fetched so far and the rate. Nothing when
 * `stream` is not a terminal. Returns the function that ends the line.
 */
export function remoteProgress(stream: NodeJS.WriteStream, label: string, stats: RemoteStats, what: string): () => void {
  if (!stream.isTTY) return () => {};
  const base = stats.bytesFetched;
  const t0 = Date.now();
  let shown = false;
  const show = () => {
    const bytes = stats.bytesFetched - base;
    const seconds = (Date.now() - t0) / 1000;
    stream.write(`\r\x1b[Kmemview: ${what}: fetched ${(bytes / MiB).toFixed(1)} MiB of ${label} at ${(bytes / MiB / seconds).toFixed(1)} MiB/s`);
    shown = true;
  };
  let timer: NodeJS.Timeout | undefined = setTimeout(function tick() {
    show();
    timer = setTimeout(tick, EVERY_MS).unref();
  }, DELAY_MS).unref();
  return () => {
    clearTimeout(timer);
    timer = undefined;
    if (shown) {
      show();
      stream.write('\n');
    }
  };
}
