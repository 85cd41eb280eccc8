/**
 * Our own output closed early (`| head -1`, `| true`, `2> >(true)`, a terminal
 * gone): writes fail with EPIPE or EIO. A one-shot command (`info … | head`)
 * just ends; a mount keeps serving (it must never die mounted); an error on
 * stderr cannot be reported anywhere.
 */
let serving = false;

export function watchClosedOutput(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (!serving && (e.code === 'EPIPE' || e.code === 'EIO')) process.exit(0);
  });
  process.stderr.on('error', () => {});
}

/** Called by a mount: from now on closed output is ignored. */
export function keepServingWhenOutputCloses(): void {
  serving = true;
}
