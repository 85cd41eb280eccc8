import { hex, InputError } from '../errors';
import { PAGE, RamRange, rangeEnd, totalLength } from '../types';
import { DmesgMap, parseDmesg } from './dmesg';
import { parseIomem } from './iomem';
import { formatRange, mergeAdjacent } from './ranges';
import { LogForm } from './scan';

/**
 * Candidate memory maps and how to choose between them. Pure: the evidence
 * that needs the image's bytes (content checks) is gathered by the caller and
 * passed in.
 */

export type CandidateKind = 'iomem' | 'dmesg' | 'image';

export interface MapCandidate {
  kind: CandidateKind;
  /** Where it came from, for a person: `boot.log lines 4-20`, `image offset 0x1f2e3d (printk records)`. */
  origin: string;
  ranges: RamRange[];
  /** How it was derived (era, edits replayed or skipped). */
  details: string[];
  /** Identical maps found elsewhere (merged into this one). */
  alsoAt: string[];
  /** For maps found in the image: how the log was stored. */
  form?: LogForm;
}

/**
 * How a map fits a headerless image of `imageSize` bytes: `exact` (raw: RAM
 * ranges concatenated) and `padded` (file offset = physical address, ending at
 * the last RAM byte) place bytes; the others only say what went wrong.
 */
export type SizeFit = 'exact' | 'padded' | 'page-rounded' | 'page-truncated' | 'avml-short' | 'none';

export const placesBytes = (fit: SizeFit) => fit === 'exact' || fit === 'padded';

export function sizeFit(ranges: readonly RamRange[], imageSize: number): SizeFit {
  if (totalLength(ranges) === imageSize) return 'exact';
  if (ranges.length > 0 && rangeEnd(ranges[ranges.length - 1]) === imageSize) return 'padded';
  let rounded = 0;
  let truncated = 0;
  for (const r of ranges) {
    rounded += Math.ceil(rangeEnd(r) / PAGE) * PAGE - Math.floor(r.start / PAGE) * PAGE;
    truncated += Math.max(0, Math.floor(rangeEnd(r) / PAGE) * PAGE - Math.ceil(r.start / PAGE) * PAGE);
  }
  if (rounded === imageSize) return 'page-rounded';
  if (truncated === imageSize) return 'page-truncated';
  if (totalLength(ranges) - ranges.length === imageSize) return 'avml-short';
  return 'none';
}

export function describeFit(fit: SizeFit, ranges: readonly RamRange[], imageSize: number): string {
  const total = totalLength(ranges);
  switch (fit) {
    case 'exact':
      return `RAM total ${total} bytes = image size`;
    case 'padded':
      return `last RAM byte + 1 = image size ${imageSize} (a padded image)`;
    case 'page-rounded':
      return `RAM total ${total} bytes; the image size matches only with every range rounded out to 4 KiB pages`;
    case 'page-truncated':
      return `RAM total ${total} bytes; the image size matches only with every range cut to whole 4 KiB pages`;
    case 'avml-short':
      return `RAM total ${total} bytes; the image size matches only with every range one byte short (AVML's off-by-one)`;
    default:
      return `RAM total ${total} bytes, image ${imageSize} bytes (difference ${imageSize - total})`;
  }
}

const sameRanges = (a: readonly RamRange[], b: readonly RamRange[]) =>
  a.length === b.length && a.every((r, i) => r.start === b[i].start && r.length === b[i].length);

/** Merges candidates with identical ranges (first one kept, the others listed in `alsoAt`). */
export function mergeIdentical(candidates: readonly MapCandidate[]): MapCandidate[] {
  const out: MapCandidate[] = [];
  for (const c of candidates) {
    const same = out.find((o) => sameRanges(o.ranges, c.ranges));
    if (same) same.alsoAt.push(c.origin, ...c.alsoAt);
    else out.push({ ...c, alsoAt: [...c.alsoAt] });
  }
  return out;
}

/** A replayed boot log map as a candidate. */
export function dmesgCandidate(map: DmesgMap, kind: CandidateKind, origin: string): MapCandidate {
  const details = [`${map.era === 'pre-3.5' ? 'kernel <= 3.4' : 'kernel >= 3.5'} e820 format, ${map.firmwareEntries} firmware entries`];
  if (map.replacedBy) details.push(`replaced by the ${map.replacedBy}`);
  for (const e of map.edits) details.push(`replayed: ${e}`);
  for (const e of map.skipped) details.push(`skipped: ${e}`);
  return { kind, origin, ranges: map.ranges, details, alsoAt: [] };
}

/** Does this text look like /proc/iomem (first non-blank line `start-end : name`)? */
export function looksLikeIomem(text: string): boolean {
  for (let from = 0; from < text.length;) {
    let to = text.indexOf('\n', from);
    if (to < 0) to = text.length;
    const line = text.slice(from, to);
    if (line.trim() !== '') return /^\s*[0-9a-fA-F]+-[0-9a-fA-F]+ : /.test(line);
    from = to + 1;
  }
  return false;
}

/**
 * A map file's text -> candidates: /proc/iomem (one candidate) or a boot log
 * (one per boot, identical boots merged). Errors name the file.
 */
export function candidatesFromText(text: string, name: string): MapCandidate[] {
  try {
    if (looksLikeIomem(text)) return [{ kind: 'iomem', origin: name, ranges: parseIomem(text), details: [], alsoAt: [] }];
    const boots = parseDmesg(text);
    const maps = boots.filter((m) => m.ranges.length > 0);
    const emptied = boots.find((m) => m.firmwareRam > 0);
    if (maps.length === 0 && emptied) throw new InputError(allRamEdited(emptied, text));
    if (maps.length === 0) {
      throw new InputError(
        'neither /proc/iomem text nor a boot log with an e820 map (no "BIOS-provided physical RAM map" or "BIOS-e820:" lines with usable RAM)',
      );
    }
    return mergeIdentical(maps.map((m) => dmesgCandidate(m, 'dmesg', `${name} lines ${m.firstLine}-${m.lastLine}`)));
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${name}: ${e.message}`);
    throw e;
  }
}

/**
 * A boot whose firmware map had RAM and whose edits (memmap=, mem=, a
 * user-defined table) left none: the edits that took RAM away, and the
 * command line's memmap=/mem= options when the log has them.
 */
function allRamEdited(m: DmesgMap, text: string): string {
  const fromRam = m.edits.filter((e) => / usable( ==>| \(line)/.test(e));
  const shown = fromRam.slice(0, 4);
  const what = [...shown, ...(fromRam.length > shown.length ? [`and ${fromRam.length - shown.length} more`] : [])];
  if (m.replacedBy) what.push(`the ${m.replacedBy} (line ${m.replacedAt}) that replaced the table`);
  const lines = text.split(/\r?\n/);
  const at = lines.findIndex((l, i) => i < m.lastLine && /\b[Cc]ommand line: /.test(l));
  const options = at < 0 ? [] : [...lines[at].matchAll(/(?:^|\s)((?:mem|memmap)=\S+)/g)].map((x) => x[1]);
  const cause = options.length > 0 ? `; the kernel command line (line ${at + 1}) has ${options.join(' ')}` : '';
  return (
    `lines ${m.firstLine}-${m.lastLine}: the edits after the firmware e820 map remove all its usable RAM: ${what.join(', ')}${cause}; ` +
    `no memory map is left: give the machine's /proc/iomem instead`
  );
}

/** One line per candidate: origin, range count, RAM total, fit. */
export function summarise(c: MapCandidate, imageSize: number): string {
  const fit = sizeFit(c.ranges, imageSize);
  return `${c.origin}: ${c.ranges.length} ranges ${formatRange(c.ranges[0])}…${hex(rangeEnd(c.ranges[c.ranges.length - 1]) - 1)}, ${describeFit(fit, c.ranges, imageSize)}`;
}

/**
 * The map to use from one explicitly given file: its only map, or among the
 * boots it holds the one whose RAM total equals the image size.
 */
export function chooseFromFile(candidates: readonly MapCandidate[], imageSize: number, name: string): { map: MapCandidate; note?: string } {
  if (candidates.length === 1) return { map: candidates[0] };
  const exact = candidates.filter((c) => placesBytes(sizeFit(c.ranges, imageSize)));
  if (exact.length === 1) {
    return { map: exact[0], note: `${name} holds ${candidates.length} different maps; used the one that fits the image size (${exact[0].origin})` };
  }
  const list = candidates.map((c) => summarise(c, imageSize)).join('; ');
  throw new InputError(
    `${name}: ${candidates.length} different maps and ${exact.length === 0 ? 'none' : 'more than one'} matches the image size ${imageSize}: ${list}; ` +
      'pass a file with the log of the boot the image was taken from',
  );
}

// ---- choosing ---------------------------------------------------------------

/** Result of a content check of a candidate against the image's own bytes. */
export interface ContentEvidence {
  ok: boolean;
  detail: string;
}

export interface RankedCandidate {
  candidate: MapCandidate;
  fit: SizeFit;
  /** Absent when the image gave nothing to check against (no VMCOREINFO note). */
  content?: ContentEvidence;
}

export type Confidence = 'high' | 'medium' | 'low';

export interface MapChoice {
  /** Best first. */
  ranked: RankedCandidate[];
  chosen?: RankedCandidate;
  confidence?: Confidence;
  /** Why this map (or why none), in words a person can check. */
  reason: string;
}

/** Maps that place every byte the same way (they differ at most in where adjacent ranges split). */
export function sameLayout(a: readonly RamRange[], b: readonly RamRange[]): boolean {
  return sameRanges(mergeAdjacent(a), mergeAdjacent(b));
}

/** Files the user named beat a live kernel's log records, which beat text copies (maybe another boot's). */
function provenance(c: MapCandidate): number {
  if (c.kind === 'iomem') return 4;
  if (c.kind === 'dmesg') return 3;
  return c.form === 'text' ? 1 : 2;
}

const contentRank = (r: RankedCandidate) => (r.content === undefined ? 1 : r.content.ok ? 2 : 0);

export function rankCandidates(ranked: readonly RankedCandidate[]): RankedCandidate[] {
  return ranked
    .slice()
    .sort(
      (a, b) =>
        Number(placesBytes(b.fit)) - Number(placesBytes(a.fit)) ||
        contentRank(b) - contentRank(a) ||
        provenance(b.candidate) - provenance(a.candidate) ||
        b.candidate.alsoAt.length - a.candidate.alsoAt.length,
    );
}

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/**
 * Picks the map for a raw image: its RAM total must equal the image size;
 * among those, the one the image's content confirms. Refuses (no `chosen`)
 * when none fits, or when maps with different layouts fit and nothing tells
 * them apart.
 */
export function chooseMap(candidates: readonly RankedCandidate[], imageSize: number): MapChoice {
  const ranked = rankCandidates(candidates);
  const fitting = ranked.filter((r) => placesBytes(r.fit));
  if (fitting.length === 0) {
    const near = ranked.filter((r) => r.fit !== 'none');
    return {
      ranked,
      reason:
        ranked.length === 0
          ? 'no memory map found'
          : `none of ${count(ranked.length, 'candidate map')} fits the image size (${imageSize} bytes) as a raw or padded image` +
            (near.length ? `; ${near.length} would fit under another length convention (see the table)` : ''),
    };
  }
  const best = fitting[0];
  const agreeing = fitting.filter((r) => sameLayout(r.candidate.ranges, best.candidate.ranges));
  const rivals = fitting.filter((r) => !sameLayout(r.candidate.ranges, best.candidate.ranges));
  const seen = agreeing.reduce((n, r) => n + 1 + r.candidate.alsoAt.length, 0);
  const sizeWords =
    best.fit === 'padded' ? `it ends where the (padded) image ends (${imageSize} bytes)` : `its RAM total equals the image size (${imageSize} bytes)`;
  if (best.content?.ok) {
    if (rivals.some((r) => r.content?.ok)) {
      return { ranked, reason: `maps with different layouts fit the image size and pass the page-table check alike; pass --map` };
    }
    const also = rivals.length ? `; ${count(rivals.length, 'other fitting map')} fail${rivals.length === 1 ? 's' : ''} it` : '';
    return { ranked, chosen: best, confidence: 'high', reason: `${sizeWords}, and the kernel's top-level ${best.content.detail}${also}` };
  }
  if (rivals.length > 0) {
    return {
      ranked,
      reason: `${count(fitting.length, 'map')} with different layouts fit the image size and nothing in the image tells them apart; pass --map`,
    };
  }
  if (best.content === undefined) {
    return {
      ranked,
      chosen: best,
      confidence: 'medium',
      reason: `${sizeWords}; every fitting map agrees (seen ${count(seen, 'time')}); no VMCOREINFO note in the image to check the content`,
    };
  }
  return {
    ranked,
    chosen: best,
    confidence: 'low',
    reason: `${sizeWords}, but the kernel's top-level page table is not where this map puts it (${best.content.detail})`,
  };
}
