import * as path from 'node:path';
import { bytesTable, PieceTable } from '../engine/piece-table';
import { TextBytes } from '../text-bytes';
import { hex, shellQuote } from '../errors';
import { iomemSpan } from '../maps/iomem';
import { readsInPlace, Source } from '../sources/source';
import { PAGE, RamRange, rangeEnd } from '../types';
import { ViewSpec } from './cores';
import { pageRoundedLimeTable } from './lime';
import { VIEW, ViewName } from './names';
import { rangeTable } from './ram-pieces';

/**
 * Launch helpers: the RAM ranges as separate files for `crash vmlinux
 * file@addr,...`, and a LeechCore memory map that lets MemProcFS read the
 * source image in place.
 */
/** Offset 0 with LeechCore's "the remap column is a file offset even when 0" flag (0x8000000000000000, leechcore.h). */
const LC_MEMMAP_FORCE_OFFSET = '0x8000000000000000';

/** `ranges/00001000-0009fbff.bin`: start and inclusive end, as /proc/iomem prints them. */
export function rangeFileName(r: RamRange): ViewName {
  return `ranges/${iomemSpan(r)}.bin`;
}

/**
 * ranges/*.bin and crash.args exist for `crash vmlinux $(cat crash.args)`,
 * which cannot work past about 4,600 ranges (one argument is at most 128
 * KiB): past this many ranges neither is served (a directory of a million
 * files helps no one), and README.txt and info say so.
 */
export const MAX_RANGE_FILES = 10_000;

/** Why ranges/*.bin and crash.args are not served for these ranges, or undefined when they are. */
export function rangeFilesLeftOut(ranges: readonly RamRange[]): string | undefined {
  if (ranges.length <= MAX_RANGE_FILES) return undefined;
  return (
    `ranges/*.bin and crash.args are not served: ${ranges.length} RAM ranges, more than ${MAX_RANGE_FILES} ` +
    `('crash vmlinux $(cat crash.args)' cannot work past about 4,600 ranges: one argument is at most 128 KiB); give crash vmcore (or memory.elf) instead`
  );
}

export function rangeFiles(source: Source): { name: ViewName; table: PieceTable }[] {
  if (rangeFilesLeftOut(source.ranges)) return [];
  return source.ranges.map((r) => ({ name: rangeFileName(r), table: rangeTable(source.segments, r) }));
}

/** The `file@paddr,...` argument crash takes for raw RAM files (ramdump.c), paths relative to the mount. */
export function crashArgs(ranges: readonly RamRange[]): string {
  return ranges.map((r) => `${rangeFileName(r)}@${hex(r.start)}`).join(',') + '\n';
}

/** The kernel's limit on one execve argument (MAX_ARG_STRLEN, 32 pages, with its NUL). */
const MAX_ARG_BYTES = 128 * 1024;

/** Why `crash vmlinux $(cat crash.args)` cannot run for these ranges, or undefined when it can. */
export function crashArgsTooLong(ranges: readonly RamRange[]): string | undefined {
  const bytes = crashArgs(ranges).length - 1;
  if (bytes < MAX_ARG_BYTES) return undefined;
  return `crash.args is ${bytes} bytes (${ranges.length} ranges), over the kernel's ${MAX_ARG_BYTES}-byte limit for one argument: 'crash vmlinux $(cat crash.args)' fails with "Argument list too long"; give crash vmcore (or memory.elf) instead`;
}

/**
 * A LeechCore `-memmap` file (memmap.c: `base top-inclusive remap` per line,
 * hex) mapping each RAM run to its offset in the source file itself. LeechCore
 * only takes whole pages, so runs are narrowed to the pages they fully hold;
 * offset 0 carries the force flag (a bare 0 would mean "no remap"). No
 * comments: its parser does not really skip them. Null when the source's bytes
 * are not plain file offsets (a decoded stream).
 */
export function memprocfsMemmap(source: Source): { text: Buffer; notes: string[] } | null {
  if (!readsInPlace(source)) return null;
  const { segments } = source;
  const lines = new TextBytes(source.ranges.length * 48);
  let dropped = 0;
  // The current run of RAM that is contiguous in the file too: physical `phys`, `length` bytes at file `offset`.
  let phys = 0;
  let length = 0;
  let offset = 0;
  const flush = () => {
    if (length === 0) return;
    const start = Math.ceil(phys / PAGE) * PAGE;
    const end = Math.floor((phys + length) / PAGE) * PAGE;
    dropped += length - Math.max(0, end - start);
    if (end > start) {
      const at = offset + (start - phys);
      lines
        .text('0x')
        .hex(start)
        .text(' 0x')
        .hex(end - 1)
        .text(' ');
      if (at === 0) lines.text(LC_MEMMAP_FORCE_OFFSET).text('\n');
      else lines.text('0x').hex(at).text('\n');
    }
    length = 0;
  };
  let j = 0; // segments before j end at or before the current range
  for (const r of source.ranges) {
    const end = rangeEnd(r);
    while (j < segments.length && segments[j].phys + segments[j].length <= r.start) j++;
    for (let k = j; k < segments.length && segments[k].phys < end; k++) {
      const s = segments[k];
      if (s.offset === null) continue;
      const from = Math.max(r.start, s.phys);
      const to = Math.min(end, s.phys + s.length);
      if (from >= to) continue;
      const at = s.offset + (from - s.phys);
      if (length > 0 && phys + length === from && offset + length === at) {
        length += to - from;
        continue;
      }
      flush();
      phys = from;
      length = to - from;
      offset = at;
    }
  }
  flush();
  if (lines.length === 0) lines.text('\n');
  const notes = dropped > 0 ? [`${dropped} bytes in partial pages are left out (LeechCore maps whole pages only)`] : [];
  return { text: lines.toBuffer(), notes };
}

/** leechcore.lime, memprocfs.memmap (when the source is a plain file), crash.args and ranges/*.bin; `limeTable`: memory.lime's. */
export function helperViews(source: Source, limeTable?: PieceTable): ViewSpec[] {
  const text = (s: string) => bytesTable(Buffer.from(s, 'latin1'));
  const specs: ViewSpec[] = [
    {
      name: VIEW.leechcore,
      description: 'LiME with ranges widened to whole pages (LeechCore/MemProcFS)',
      table: pageRoundedLimeTable(source.segments, source.ranges, limeTable),
    },
  ];
  const memmap = memprocfsMemmap(source);
  if (memmap) {
    specs.push({
      name: VIEW.memmap,
      description: `LeechCore -memmap into the source file itself: memprocfs -device ${shellQuote(path.resolve(source.path))} -memmap memprocfs.memmap`,
      table: bytesTable(memmap.text),
      notes: memmap.notes,
    });
  }
  if (rangeFilesLeftOut(source.ranges)) return specs;
  const tooLong = crashArgsTooLong(source.ranges);
  specs.push({
    name: VIEW.crashArgs,
    description: "the file@address list for 'crash vmlinux $(cat crash.args)', run in the mount",
    table: text(crashArgs(source.ranges)),
    ...(tooLong ? { notes: [tooLong] } : {}),
  });
  for (const f of rangeFiles(source)) specs.push({ name: f.name, description: 'one RAM range', table: f.table });
  return specs;
}
