import { harvestKernel, KernelHarvest, ScanMode } from './kernel/harvest';
import { openSource, OpenOptions } from './sources/open';
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
}

export interface Session {
  readonly source: Source;
  readonly kernel: KernelHarvest;
  readonly views: readonly View[];
  close(): void;
}

export async function openSession(path: string, options: SessionOptions = {}): Promise<Session> {
  const source = await openSource(path, options);
  try {
    const kernel = await harvestKernel(source, options.vmcoreinfo ?? 'first');
    const views = buildViews(source, kernel);
    return { source, kernel, views, close: () => source.close() };
  } catch (e) {
    source.close();
    throw e;
  }
}
