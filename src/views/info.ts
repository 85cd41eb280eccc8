import { hex } from '../errors';
import { KernelHarvest, kernelSummary } from '../kernel/harvest';
import { Source } from '../sources/source';
import { rangeEnd, totalLength } from '../types';

interface SizedView {
  name: string;
  file: { size: number };
  notes?: string[];
}

/** The facts `memview info` prints, as an object (also served as info.json). */
export function describeSource(source: Source, views: readonly SizedView[], kernel?: KernelHarvest) {
  return {
    source: {
      path: source.path,
      format: source.format,
      detectedBy: source.detectedBy,
      size: source.fileSize,
      mtime: source.mtime.toISOString(),
    },
    map: {
      origin: source.mapOrigin,
      ramBytes: totalLength(source.ranges),
      ranges: source.ranges.map((r) => ({ start: hex(r.start), end: hex(rangeEnd(r) - 1), length: r.length })),
    },
    views: views.map((v) => ({ name: v.name, size: v.file.size, ...(v.notes ? { notes: v.notes } : {}) })),
    notes: source.notes,
    ...(kernel ? { kernel: kernelSummary(kernel) } : {}),
  };
}

export function infoJson(source: Source, views: readonly SizedView[], kernel?: KernelHarvest): string {
  return JSON.stringify(describeSource(source, views, kernel), null, 2) + '\n';
}
