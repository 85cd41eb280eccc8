import * as path from 'node:path';
import { physicalPieces } from '../engine/physical';
import { bytesPiece, Piece } from '../engine/pieces';
import { hex, shellQuote } from '../errors';
import { iomemSpan } from '../maps/iomem';
import { readsInPlace, Source } from '../sources/source';
import { PAGE, RamRange, rangeEnd } from '../types';
import { ViewSpec } from './cores';
import { pageRoundedLimePieces } from './lime';
import { VIEW, ViewName } from './names';
import { rangePieces } from './ram-pieces';

/**
 * Launch helpers: the RAM ranges as separate files for `crash vmlinux
 * file@addr,...`, and a LeechCore memory map that lets MemProcFS read the
 * source image in place.
 */
/** LeechCore's "the remap column is a file offset even when 0" flag (leechcore.h). */
const LC_MEMMAP_FORCE_OFFSET = 0x8000000000000000n;

/** `ranges/00001000-0009fbff.bin`: start and inclusive end, as /proc/iomem prints them. */
export function rangeFileName(r: RamRange): ViewName {
  return `ranges/${iomemSpan(r)}.bin`;
}

export function rangeFiles(source: Source): { name: ViewName; pieces: Piece[] }[] {
  return source.ranges.map((r) => ({ name: rangeFileName(r), pieces: rangePieces(source.segments, r) }));
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

interface FileRun {
  phys: number;
  length: number;
  offset: number;
}

/**
 * A LeechCore `-memmap` file (memmap.c: `base top-inclusive remap` per line,
 * hex) mapping each RAM run to its offset in the source file itself. LeechCore
 * only takes whole pages, so runs are narrowed to the pages they fully hold;
 * offset 0 carries the force flag (a bare 0 would mean "no remap"). No
 * comments: its parser does not really skip them. Null when the source's bytes
 * are not plain file offsets (a decoded stream).
 */
export function memprocfsMemmap(source: Source): { text: string; notes: string[] } | null {
  if (!readsInPlace(source)) return null;
  const runs: FileRun[] = [];
  for (const r of source.ranges) {
    let phys = r.start;
    for (const p of physicalPieces(source.segments, r.start, rangeEnd(r))) {
      if (p.kind === 'source') {
        const last = runs[runs.length - 1];
        if (last && last.phys + last.length === phys && last.offset + last.length === p.offset) last.length += p.length;
        else runs.push({ phys, length: p.length, offset: p.offset });
      }
      phys += p.length;
    }
  }
  let dropped = 0;
  const lines: string[] = [];
  for (const run of runs) {
    const start = Math.ceil(run.phys / PAGE) * PAGE;
    const end = Math.floor((run.phys + run.length) / PAGE) * PAGE;
    dropped += run.length - Math.max(0, end - start);
    if (end <= start) continue;
    const offset = BigInt(run.offset + (start - run.phys));
    const remap = offset === 0n ? offset | LC_MEMMAP_FORCE_OFFSET : offset;
    lines.push(`0x${start.toString(16)} 0x${(end - 1).toString(16)} 0x${remap.toString(16)}`);
  }
  const notes = dropped > 0 ? [`${dropped} bytes in partial pages are left out (LeechCore maps whole pages only)`] : [];
  return { text: lines.join('\n') + '\n', notes };
}

/** leechcore.lime, memprocfs.memmap (when the source is a plain file), crash.args and ranges/*.bin. */
export function helperViews(source: Source): ViewSpec[] {
  const text = (s: string) => [bytesPiece(Buffer.from(s, 'latin1'))];
  const specs: ViewSpec[] = [
    {
      name: VIEW.leechcore,
      description: 'LiME with ranges widened to whole pages (LeechCore/MemProcFS)',
      pieces: pageRoundedLimePieces(source.segments, source.ranges),
    },
  ];
  const memmap = memprocfsMemmap(source);
  if (memmap) {
    specs.push({
      name: VIEW.memmap,
      description: `LeechCore -memmap into the source file itself: memprocfs -device ${shellQuote(path.resolve(source.path))} -memmap memprocfs.memmap`,
      pieces: text(memmap.text),
      notes: memmap.notes,
    });
  }
  const tooLong = crashArgsTooLong(source.ranges);
  specs.push({
    name: VIEW.crashArgs,
    description: "the file@address list for 'crash vmlinux $(cat crash.args)', run in the mount",
    pieces: text(crashArgs(source.ranges)),
    ...(tooLong ? { notes: [tooLong] } : {}),
  });
  for (const f of rangeFiles(source)) specs.push({ name: f.name, description: 'one RAM range', pieces: f.pieces });
  return specs;
}
