import { harvestKernel, KernelHarvest, ScanMode } from './kernel/harvest';
import { openSource, OpenOptions, REMOTE_SCAN_MB } from './sources/open';
import { Source } from './sources/source';
import { buildViews, View } from './views/index';

/**
 * One mounted (or exported, or described) image, start to end, each step's
 * result immutable and passed on:
 *
 *   open (detect, find the map, parse: sources/open.ts)
 *     -> harvest the kernel's VMCOREINFO note from RAM (kernel/harvest.ts)
 *     -> build every view (views/index.ts): piece tables, fixed until close
 */
export interface SessionOptions extends OpenOptions {
  /** How to look for the kernel's VMCOREINFO note (default `first`). */
  vmcoreinfo?: ScanMode;
  /** Called when the session is open, or failed to open (the CLI ends its progress line). */
  onOpened?: () => void;
}

const MiB = 1024 * 1024;

/** The VMCOREINFO search; over a remote source within its scan budget (the harvest reports where it stopped). */
async function harvest(source: Source, options: SessionOptions): Promise<KernelHarvest> {
  const mode = options.vmcoreinfo ?? 'first';
  const remote = source.remote;
  if (!remote || mode === 'off') return harvestKernel(source, mode);
  const budget = options.remoteScanBytes ?? REMOTE_SCAN_MB * MiB;
  remote.startBudget(budget, `VMCOREINFO search (--remote-scan-mb ${Math.round(budget / MiB)})`);
  try {
    return await harvestKernel(source, mode);
  } finally {
    remote.scans.push({ what: 'VMCOREINFO search', budget, fetched: remote.endBudget() });
  }
}

export interface Session {
  readonly source: Source;
  readonly kernel: KernelHarvest;
  readonly views: readonly View[];
  close(): void;
}

export async function openSession(path: string, options: SessionOptions = {}): Promise<Session> {
  let source: Source;
  try {
    source = await openSource(path, options);
  } catch (e) {
    options.onOpened?.();
    throw e;
  }
  try {
    const kernel = await harvest(source, options);
    const views = buildViews(source, kernel);
    return { source, kernel, views, close: () => source.close() };
  } catch (e) {
    source.close();
    throw e;
  } finally {
    options.onOpened?.();
  }
}
