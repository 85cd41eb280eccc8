import * as fs from 'node:fs';
import { hex, InputError } from '../errors';
import { ConcatSource } from '../io/concat-source';
import { FileSource } from '../io/file-source';
import { formatRange } from '../maps/ranges';
import { RamRange, Segment, segmentRuns } from '../types';

/**
 * A split RAM dump: FILE@ADDR[,FILE@ADDR...], each file the raw bytes of
 * physical memory from ADDR (what bootloaders, JTAG probes and Qualcomm
 * ramdumps ship, e.g. DDRCS0.BIN@0x80000000, and what crash takes as its
 * ramdump argument; memview's own crash.args is in this form). Order is free;
 * relative paths are relative to the current directory.
 */
export interface SplitPart {
  file: string;
  address: number;
}

const ITEM = /^(.+)@(0x[0-9a-fA-F]+|[0-9]+)$/;

/**
 * The parts of a FILE@ADDR list, or null when `spec` is an existing file or
 * no item has the FILE@ADDR shape (then it is opened as one image).
 */
export function parseSplitList(spec: string): SplitPart[] | null {
  if (!spec.includes('@') || fs.existsSync(spec)) return null;
  const items = spec.split(',');
  if (!items.some((i) => ITEM.test(i))) return null;
  return items.map((item) => {
    const m = ITEM.exec(item);
    if (!m) throw new InputError(`${spec}: not a file, and ${JSON.stringify(item)} is not FILE@ADDR (e.g. DDRCS0.BIN@0x80000000)`);
    const address = Number(m[2]);
    if (!Number.isSafeInteger(address)) throw new InputError(`${item}: address ${m[2]} is out of range`);
    return { file: m[1], address };
  });
}

export interface SplitImage {
  image: ConcatSource;
  ranges: RamRange[];
  segments: Segment[];
  notes: string[];
  files: string[];
  mtime: Date;
}

/** Opens every part (read-only), refuses overlaps, and lays the files out at their addresses. */
export function openSplit(parts: SplitPart[]): SplitImage {
  const sorted = [...parts].sort((a, b) => a.address - b.address);
  const opened: FileSource[] = [];
  try {
    for (const p of sorted) {
      const f = FileSource.open(p.file);
      opened.push(f);
      if (f.size === 0) throw new InputError(`${p.file}: file is empty`);
    }
    const span = (i: number) => ({ start: sorted[i].address, length: opened[i].size });
    for (let i = 1; i < sorted.length; i++) {
      const prev = span(i - 1);
      if (sorted[i].address < prev.start + prev.length) {
        throw new InputError(
          `${sorted[i].file}@${hex(sorted[i].address)} (${formatRange(span(i))}) overlaps ${sorted[i - 1].file}@${hex(prev.start)} (${formatRange(prev)})`,
        );
      }
    }
    const image = new ConcatSource(opened, sorted.map((p) => `${p.file}@${hex(p.address)}`).join(','));
    const segments = sorted.map((p, i) => ({ phys: p.address, length: opened[i].size, offset: image.offsets[i] }));
    const ranges = segmentRuns(segments);
    const notes = [`split RAM dump: ${sorted.length} files at their addresses (${sorted.map((p, i) => `${p.file} ${formatRange(span(i))}`).join(', ')})`];
    const joined = segments.length - ranges.length;
    if (joined > 0) notes.push(`${joined} file${joined === 1 ? ' continues' : 's continue'} the one before: ${ranges.length} RAM ranges`);
    const mtime = new Date(Math.max(...opened.map((f) => f.mtime.getTime())));
    return { image, ranges, segments, notes, files: sorted.map((p) => p.file), mtime };
  } catch (e) {
    for (const f of opened) f.close();
    throw e;
  }
}
