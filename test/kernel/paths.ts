import * as os from 'node:os';
import * as path from 'node:path';

/** Where the kernel build and the acquisitions live: outside git, kept between runs. */
export const KERNEL_CACHE = process.env.MEMVIEW_KERNEL_CACHE || path.join(os.homedir(), '.cache', 'memview-kernel');
export const RUNS = path.join(KERNEL_CACHE, 'runs');
export const runDir = (layout: string) => path.join(RUNS, layout);
/** Written by the global setup: the build directory and each boot's result. */
export const SUMMARY = path.join(RUNS, 'summary.json');
