import { hex } from '../errors';
import { KernelHarvest, kernelSummary } from '../kernel/harvest';
import type { RemoteSource } from '../io/remote-source';
import { Source } from '../sources/source';
import { RamRange, rangeEnd, totalLength } from '../types';
import { rangeFilesLeftOut } from './helpers';
import { VIEW } from './names';

interface SizedView {
  name: string;
  file: { size: number };
  notes?: string[];
}

/**
 * At most this many RAM ranges are listed (by info.json and `memview info`):
 * past it the list says how many it left out and where they all are
 * (iomem.txt, the same map in /proc/iomem syntax).
 */
export const LISTED_RANGES = 1000;

function listedRanges(ranges: readonly RamRange[]) {
  const listed = ranges.slice(0, LISTED_RANGES).map((r) => ({ start: hex(r.start), end: hex(rangeEnd(r) - 1), length: r.length }));
  if (listed.length === ranges.length) return { ranges: listed };
  return {
    ranges: listed,
    rangesLeftOut: ranges.length - listed.length,
    rangesNote: `the first ${listed.length} of ${ranges.length} RAM ranges are listed; all of them are in ${VIEW.iomem} (memview export SOURCE --view iomem -o -)`,
  };
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
    ...(source.remote ? { remote: describeRemote(source.remote) } : {}),
    map: {
      origin: source.mapOrigin,
      ramBytes: totalLength(source.ranges),
      rangeCount: source.ranges.length,
      ...listedRanges(source.ranges),
    },
    views: views.map((v) => ({ name: v.name, size: v.file.size, ...(v.notes ? { notes: v.notes } : {}) })),
    notes: [...source.notes, ...(rangeFilesLeftOut(source.ranges) ? [rangeFilesLeftOut(source.ranges)!] : [])],
    ...(kernel ? { kernel: kernelSummary(kernel) } : {}),
  };
}

export function infoJson(source: Source, views: readonly SizedView[], kernel?: KernelHarvest): string {
  return JSON.stringify(describeSource(source, views, kernel), null, 2) + '\n';
}

/** A remote source's pin and cache (no byte counts that vary between mounts: info.json stays the same bytes). */
function describeRemote(r: RemoteSource) {
  const { etag, lastModified, versionId } = r.pin;
  const pinnedBy =
    [versionId && 'version id', etag && 'ETag (If-Match)', !etag && lastModified && 'Last-Modified (If-Unmodified-Since)'].filter(Boolean).join(' + ') ||
    'nothing: the server gives no ETag or Last-Modified; a change cannot be detected';
  return {
    url: r.label,
    size: r.size,
    etag,
    lastModified,
    versionId,
    pinnedBy,
    blockSize: r.blockSize,
    cacheBytes: r.cacheBytes,
    scans: r.scans.map((s) => ({ what: s.what, budget: s.budget })),
  };
}
