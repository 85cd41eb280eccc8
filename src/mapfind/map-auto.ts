import { InputError } from '../errors';
import { checkPageTable, PageTableQuery } from '../kernel/page-table';
import { kernelFacts, pageTableQuery } from '../kernel/vmcoreinfo';
import { chooseMap, ContentEvidence, MapCandidate, MapChoice, mergeIdentical, placesBytes, RankedCandidate, SizeFit, sizeFit } from '../maps/candidates';
import { ByteSource, readAt } from '../io/byte-source';
import { PAGE, RamRange, rangeEnd, rangeHolding } from '../types';
import { ChosenMap, readMapFile } from './map-file';
import { formatMapReport, MapReport } from './report';
import { scanImage } from './scan-image';

/**
 * `--map auto` and `memview map`: gathers candidate maps (files the user
 * named, boot logs inside the image), checks each against the image's own
 * content, and picks one (src/maps/candidates.ts says how).
 */

/** Reads physical pages of a headerless image under a candidate map: raw (RAM ranges concatenated) or padded. */
function pageReader(image: ByteSource, ranges: readonly RamRange[], padded: boolean): (phys: number) => Promise<Buffer | null> {
  return async (phys) => {
    if (padded) {
      return rangeHolding(ranges, phys, PAGE) ? readAt(image, phys, PAGE) : null;
    }
    let offset = 0;
    for (const r of ranges) {
      if (phys >= r.start && phys + PAGE <= rangeEnd(r)) {
        const page = await readAt(image, offset + (phys - r.start), PAGE);
        return page.length === PAGE ? page : null;
      }
      offset += r.length;
    }
    return null;
  };
}

async function contentCheck(
  image: ByteSource,
  ranges: readonly RamRange[],
  fit: SizeFit,
  pageTables: readonly PageTableQuery[],
): Promise<ContentEvidence | undefined> {
  if (pageTables.length === 0 || !placesBytes(fit)) return undefined;
  const read = pageReader(image, ranges, fit === 'padded');
  const checks = [];
  for (const q of pageTables) checks.push(await checkPageTable(q, ranges, read));
  return checks.find((c) => c.ok) ?? checks[0];
}

export interface MapSearch {
  /** Candidates from files the user named. */
  files?: MapCandidate[];
  /** Also look for boot logs inside the image. */
  scan: boolean;
  /** Search only the first this many bytes (a remote image: the scan's byte budget). */
  scanLimit?: number;
}

/** The first `limit` bytes of `image` (the scan of a remote image stays within its budget). */
function firstBytes(image: ByteSource, limit: number): ByteSource {
  if (limit >= image.size) return image;
  return { size: limit, label: image.label, read: (t, o, n, p) => image.read(t, o, Math.max(0, Math.min(n, limit - p)), p), close: () => {} };
}

/** Gathers, checks and ranks every candidate map for a raw image. */
export async function buildMapReport(image: ByteSource, search: MapSearch): Promise<MapReport> {
  const scan = await scanImage(search.scanLimit === undefined ? image : firstBytes(image, search.scanLimit));
  const kernels = scan.notes.map((n) => ({ offset: n.offset, ...kernelFacts(n.fields) }));
  const queries = kernels.flatMap((k) => pageTableQuery(k) ?? []);
  const pageTables = queries.filter((q, i) => queries.findIndex((o) => o.phys === q.phys && o.levels === q.levels && o.probe?.virt === q.probe?.virt) === i);
  const candidates = mergeIdentical([...(search.files ?? []), ...(search.scan ? scan.candidates : [])]);
  const ranked: RankedCandidate[] = [];
  for (const candidate of candidates) {
    const fit = sizeFit(candidate.ranges, image.size);
    const content = await contentCheck(image, candidate.ranges, fit, pageTables);
    ranked.push({ candidate, fit, ...(content ? { content } : {}) });
  }
  const choice: MapChoice = chooseMap(ranked, image.size);
  return {
    image: image.label,
    imageSize: image.size,
    scan: { seconds: scan.seconds, logHeaders: scan.hits.log.length, vmcoreinfoHits: scan.hits.vmcoreinfo.length, capped: scan.hits.capped },
    kernels,
    choice,
  };
}

/**
 * The map of a raw image given no map (or `--map auto`): the best candidate
 * from the image's own boot log, or an InputError carrying the table.
 */
export async function autoMap(image: ByteSource, scanLimit?: number): Promise<ChosenMap> {
  const report = await buildMapReport(image, { scan: true, scanLimit });
  const partly = scanLimit !== undefined && scanLimit < image.size ? ` (searched its first ${scanLimit} of ${image.size} bytes: --remote-scan-mb)` : '';
  const { chosen, confidence, reason } = report.choice;
  if (!chosen) {
    const tried = `looked for the boot log's e820 map (dmesg text, printk records, printk ring buffer) and the VMCOREINFO note in the image${partly}`;
    throw new InputError(
      `${image.label}: a raw image needs a memory map and none was found in it: ${reason} (${tried}); ` +
        "pass --map with the machine's /proc/iomem or its boot log (dmesg, journalctl -k)",
      report.choice.ranked.length ? formatMapReport(report) : undefined,
    );
  }
  return {
    ranges: chosen.candidate.ranges,
    origin: `auto: ${chosen.candidate.origin}, confidence ${confidence}`,
    notes: [`map chosen automatically (confidence ${confidence}): ${reason}${partly}`],
    foundInImage: true,
  };
}

/** `--map` value that asks for the image's own map. */
export const AUTO_MAP = 'auto';

/**
 * The map for an image: the file given with --map; else, for an image read
 * as raw (or as padded with `--map auto`), the map found inside the image.
 * Images that carry their own map get none.
 */
export async function mapForImage(image: ByteSource, map: string | undefined, format: string, scanLimit?: number): Promise<ChosenMap | undefined> {
  if (map && map !== AUTO_MAP) return readMapFile(map, image.size);
  if (format === 'raw' || (format === 'padded' && map === AUTO_MAP)) return autoMap(image, scanLimit);
  return undefined;
}
