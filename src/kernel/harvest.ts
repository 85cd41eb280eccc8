import { appendPhysical, physicalTable } from '../engine/physical';
import { PieceTableBuilder } from '../engine/piece-table';
import { VirtualFile } from '../engine/virtual-file';
import { hex } from '../errors';
import { ByteSource } from '../io/byte-source';
import { formatRange, mergeAdjacent, subtractRanges } from '../maps/ranges';
import { searchChunks } from '../search/needle-search';
import { appendAll, countAtOrBelow, PAGE, RamRange, rangeEnd, rangeHolding, Segment, totalLength } from '../types';
import {
  kernelFacts,
  KernelFacts,
  pageTableQuery,
  parseVmcoreinfoNoteAt,
  VMCOREINFO_NEEDLE,
  VMCOREINFO_NEEDLE_OFFSET,
  VmcoreinfoNote,
  X86_64_START_KERNEL_MAP,
} from './vmcoreinfo';
import { checkPageTable } from './page-table';

/**
 * Finds the kernel's VMCOREINFO note in a source's RAM at mount time, and
 * checks each copy against the image: is the kernel it describes where the
 * note says (text in RAM, init_uts_ns naming the same release, a page table
 * at swapper_pg_dir)?
 *
 * `first` (default) reads only the windows where kernels put the note (at
 * most about 1 GiB, see likelyWindows) and stops at the first copy that
 * passes those checks, so mount time does not grow with the image. `all`
 * reads all RAM and reports every copy (conflicts).
 */
export type ScanMode = 'first' | 'all' | 'off';
export const SCAN_MODES: readonly ScanMode[] = ['first', 'all', 'off'];

export interface NoteCandidate {
  /** Physical address of the note in RAM; -1 for a note the container carries (see `origin`). */
  phys: number;
  /** Where a note not found in RAM came from (the kdump sub-header). */
  origin?: string;
  note: VmcoreinfoNote;
  facts: KernelFacts;
  /** Evidence that the note describes the kernel in this image. */
  evidence: string[];
  /** Why it cannot be used to map the kernel image (empty: it can). */
  problems: string[];
  /** The kernel image window, physical, clipped to >= 0: what vmcore maps virtually. */
  image?: KernelImage;
}

export interface KernelImage {
  /** Physical start of the window (phys_base, or 0 when phys_base is negative). */
  phys: number;
  length: number;
  /** Kernel virtual address of `phys`. */
  virt: bigint;
}

export interface KernelHarvest {
  mode: ScanMode;
  scannedBytes: number;
  ramBytes: number;
  /** The copy memory.elf and vmcore carry, if any. */
  chosen: NoteCandidate | null;
  /** Every valid copy seen (in `first` mode: up to the one chosen). */
  candidates: NoteCandidate[];
  /** Places that look like the note but are not a usable one. */
  rejected: { phys: number; reason: string }[];
  /** One-line findings for `info`. */
  report: string[];
  /** `first` mode found nothing in these likely windows and read no further. */
  windowsOnly?: RamRange[];
}

/** Bytes a source's RAM reader needs: the map, where the bytes are, and what they are read from. */
export interface RamSource {
  ranges: readonly RamRange[];
  segments: readonly Segment[];
  bytes: ByteSource;
  /** VMCOREINFO the container carries: checked first; consistent with the image, RAM is not scanned. */
  vmcoreinfo?: { text: string; origin: string };
}

const CHUNK = 8 * 1024 * 1024;
const NHDR_AND_NAME = 24;
/** Larger than any descsz the parser accepts. */
const MAX_NOTE = NHDR_AND_NAME + 64 * 1024;
/** Without KASLR x86-64 KERNEL_IMAGE_SIZE is 512 MiB; kernels print it since 4.x. */
const DEFAULT_KERNEL_IMAGE_SIZE = 512 * 1024 * 1024;
const UTSNAME_FIELD = 65;

/** Reads physical [phys, phys+length) of the source: zeros where it holds no bytes. */
async function readPhysical(src: RamSource, phys: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  if (phys < 0) return buf;
  await new VirtualFile(physicalTable(src.segments, phys, phys + length), src.bytes).read(buf, 0, length);
  return buf;
}

/** Why a needle hit is not a usable note (the parser said no, or the text is cut short). */
function diagnose(raw: Buffer): string {
  const namesz = raw.readUInt32LE(0);
  const descsz = raw.readUInt32LE(4);
  const type = raw.readUInt32LE(8);
  if (namesz !== 11 || type !== 0) return `"VMCOREINFO" without a note header (namesz ${namesz}, type ${type})`;
  if (descsz > MAX_NOTE - NHDR_AND_NAME) return `descsz ${descsz} is larger than any kernel writes`;
  const desc = raw.subarray(NHDR_AND_NAME, NHDR_AND_NAME + descsz);
  const bad = desc.findIndex((c) => c !== 0x0a && (c < 0x20 || c >= 0x7f));
  return `text is not printable (byte 0x${desc[bad]?.toString(16)} at +${hex(bad)} of ${descsz})`;
}

async function checkCandidate(src: RamSource, phys: number, note: VmcoreinfoNote, descsz: number): Promise<NoteCandidate> {
  const facts = kernelFacts(note.fields);
  const c: NoteCandidate = { phys, note, facts, evidence: [], problems: [] };
  if (note.text.length < descsz || !note.text.endsWith('\n')) {
    c.problems.push(`truncated: descsz ${descsz} but the text stops after ${note.text.length} bytes mid-line`);
    return c;
  }
  const physBase = facts.physBase;
  if (physBase === undefined) c.problems.push('no NUMBER(phys_base) (not an x86-64 kernel?)');
  const imageSize = Number(note.fields.get('NUMBER(KERNEL_IMAGE_SIZE)') ?? DEFAULT_KERNEL_IMAGE_SIZE);
  const toPhys = (virt: bigint | undefined): number | undefined =>
    virt === undefined || physBase === undefined || virt < X86_64_START_KERNEL_MAP ? undefined : Number(virt - X86_64_START_KERNEL_MAP + physBase);
  const stext = toPhys(hexField(note.fields.get('SYMBOL(_stext)')));
  if (physBase !== undefined) {
    if (stext === undefined) c.problems.push('no SYMBOL(_stext)');
    else if (!rangeHolding(src.ranges, stext))
      c.problems.push(
        `NUMBER(phys_base) ${physBase} puts the kernel text (_stext) at physical ${hex(stext)}, outside RAM (wrong map, or a note from another boot)`,
      );
    else c.evidence.push(`kernel text (_stext) at physical ${hex(stext)}, in RAM ${formatRange(rangeHolding(src.ranges, stext)!)}`);
  }
  const uts = toPhys(hexField(note.fields.get('SYMBOL(init_uts_ns)')));
  if (uts !== undefined && rangeHolding(src.ranges, uts)) {
    const nameOffsets = note.fields.has('OFFSET(uts_namespace.name)') ? [Number(note.fields.get('OFFSET(uts_namespace.name)'))] : [0, 4];
    const bytes = await readPhysical(src, uts, 8 + 3 * UTSNAME_FIELD);
    const field = (at: number) => bytes.toString('latin1', at, at + UTSNAME_FIELD).replace(/\0.*$/s, '');
    const match = nameOffsets.find((o) => field(o) === 'Linux' && field(o + 2 * UTSNAME_FIELD) === facts.osrelease);
    if (match !== undefined) c.evidence.push(`init_uts_ns at physical ${hex(uts)} reads "Linux" release ${facts.osrelease}`);
    else c.problems.push(`init_uts_ns at physical ${hex(uts)} does not read "Linux" release ${facts.osrelease}`);
  }
  const query = pageTableQuery(facts);
  if (query) {
    const check = await checkPageTable(query, src.ranges, (phys) => readPhysical(src, phys, PAGE));
    if (check.ok) c.evidence.push(`swapper_pg_dir: ${check.detail}`);
    else c.problems.push(`swapper_pg_dir: ${check.detail}`);
  }
  if (physBase !== undefined && c.problems.length === 0) {
    const start = Math.max(0, Number(physBase));
    const end = Number(physBase) + imageSize;
    if (end > start) c.image = { phys: start, length: end - start, virt: BigInt(start) - physBase + X86_64_START_KERNEL_MAP };
  }
  return c;
}

function hexField(v: string | undefined): bigint | undefined {
  return v !== undefined && /^[0-9a-fA-F]+$/.test(v) ? BigInt('0x' + v) : undefined;
}

/** Scans the source's RAM for VMCOREINFO notes (see ScanMode) and picks the one memory.elf and vmcore carry. */
export async function harvestKernel(src: RamSource, mode: ScanMode = 'first'): Promise<KernelHarvest> {
  const h: KernelHarvest = { mode, scannedBytes: 0, ramBytes: totalLength(src.ranges), chosen: null, candidates: [], rejected: [], report: [] };
  if (mode === 'off') {
    h.report.push('VMCOREINFO scan off (--vmcoreinfo off): memory.elf carries no kernel note and vmcore is not served');
    return h;
  }
  try {
    if (src.vmcoreinfo) {
      const c = await givenCandidate(src, src.vmcoreinfo);
      h.candidates.push(c);
      if (c.image) {
        choose(h);
        return h;
      }
    }
    await scanRam(src, h);
  } catch (e) {
    // A source that cannot be read everywhere still mounts; its reads will say where.
    h.report.push(`VMCOREINFO scan stopped after ${h.scannedBytes} RAM bytes: ${(e as Error).message}`);
  }
  choose(h);
  return h;
}

/** A container's VMCOREINFO text as the note the kernel would have written, checked against the image like a note in RAM. */
async function givenCandidate(src: RamSource, given: { text: string; origin: string }): Promise<NoteCandidate> {
  const text = Buffer.from(given.text, 'latin1');
  const pad4 = (n: number) => Math.ceil(n / 4) * 4;
  const raw = Buffer.alloc(NHDR_AND_NAME + pad4(text.length));
  raw.writeUInt32LE(11, 0); // "VMCOREINFO\0"
  raw.writeUInt32LE(text.length, 4);
  raw.write('VMCOREINFO', 12, 'latin1');
  text.copy(raw, NHDR_AND_NAME);
  const note = parseVmcoreinfoNoteAt(raw, 0, -1);
  if (!note)
    return {
      phys: -1,
      origin: given.origin,
      note: { offset: -1, note: raw, text: given.text, fields: new Map() },
      facts: kernelFacts(new Map()),
      evidence: [],
      problems: [`VMCOREINFO from ${given.origin} is not a valid note text`],
    };
  const c = await checkCandidate(src, -1, note, text.length);
  c.origin = given.origin;
  return c;
}

const MiB = 1024 * 1024;
const FOUR_GIB = 4 * 1024 * MiB;
/** Size of each window of `likelyWindows`: four of them bound a default scan to about 1 GiB. */
const WINDOW = 256 * MiB;

/** The parts of `ranges` inside [start, end). */
function clip(ranges: readonly RamRange[], start: number, end: number): RamRange[] {
  const out: RamRange[] = [];
  const first = countAtOrBelow(ranges.length, (i) => rangeEnd(ranges[i]), start); // the first range ending after `start`
  for (let i = first; i < ranges.length && ranges[i].start < end; i++) {
    const r = ranges[i];
    const from = Math.max(start, r.start);
    const to = Math.min(end, rangeEnd(r));
    if (from < to) out.push({ start: from, length: to - from });
  }
  return out;
}

/**
 * Where the kernel's note usually is, most likely first (RAM only). The note
 * is a page the kernel allocates early in boot (alloc_pages_exact since 4.13;
 * a static array in the kernel image before), so it sits where the page
 * allocator hands out its first pages: since 5.10 the lowest free pages of the
 * preferred zone (just above the kernel image at 16 MiB, or just above 4 GiB
 * on machines with RAM there), before 5.10 the highest (the top of RAM below
 * 4 GiB, or the top of all RAM). Inferred from the allocator's code, not
 * measured on many dumps: `--vmcoreinfo all` reads everything.
 */
export function likelyWindows(ranges: readonly RamRange[]): RamRange[] {
  const below4g = clip(ranges, 0, FOUR_GIB);
  const topBelow4g = below4g.length ? rangeEnd(below4g[below4g.length - 1]) : 0;
  const top = rangeEnd(ranges[ranges.length - 1]);
  const windows: [number, number][] = [
    [0, 16 * MiB + WINDOW],
    [FOUR_GIB, FOUR_GIB + WINDOW],
    [topBelow4g - WINDOW, topBelow4g],
    [top - WINDOW, top],
  ];
  const out: RamRange[] = [];
  for (const [start, end] of windows) {
    const covered = [...out].sort((a, b) => a.start - b.start);
    appendAll(out, subtractRanges(clip(ranges, start, end), mergeAdjacent(covered)));
  }
  return out;
}

/**
 * Searches the given parts of RAM for the note's fixed bytes (name +
 * "OSRELEASE=") with the one byte search (search/needle-search.ts: large
 * chunks, SIMD), in one pass over all parts laid back to back (a map of a
 * million ranges gives as many parts). Each part is read a needle's length
 * past its end (within its RAM range) so no hit straddling a boundary is
 * missed; a match running past its part's bytes (into the next part's) is
 * none. Each hit is read again whole and checked. Returns true when `first`
 * mode found a copy consistent with the image. `scannedBytes` counts, per
 * part, whole CHUNKs up to the one that held the hit, as info.json reports it.
 */
async function scanParts(src: RamSource, parts: readonly RamRange[], h: KernelHarvest, seen: Set<number>): Promise<boolean> {
  if (parts.length === 0) return false;
  const overlap = VMCOREINFO_NEEDLE.length - 1;
  // at[k]: where part k's bytes start back to back; before[k]: RAM bytes of the parts before it.
  const at = new Float64Array(parts.length + 1);
  const before = new Float64Array(parts.length + 1);
  const all = new PieceTableBuilder(2 * parts.length + 4, 16);
  parts.forEach((part, k) => {
    const range = rangeHolding(src.ranges, part.start)!;
    at[k] = all.size;
    before[k + 1] = before[k] + part.length;
    appendPhysical(all, src.segments, part.start, Math.min(rangeEnd(range), rangeEnd(part) + overlap));
  });
  at[parts.length] = all.size;
  const ram = new VirtualFile(all.build(), src.bytes).asByteSource(src.bytes.label);
  const start = h.scannedBytes;
  const partOf = (offset: number) => Math.max(0, countAtOrBelow(parts.length, (k) => at[k], offset) - 1);
  const scannedTo = (k: number, within: number) => {
    h.scannedBytes = Math.max(h.scannedBytes, start + before[k] + Math.min(parts[k].length, (Math.floor(within / CHUNK) + 1) * CHUNK));
  };
  let found = false;
  await searchChunks(ram, [VMCOREINFO_NEEDLE], { chunkSize: CHUNK + overlap }, async ([hits], chunkStart) => {
    const first = partOf(chunkStart);
    scannedTo(first, chunkStart - at[first]);
    for (const hit of hits) {
      const k = partOf(hit);
      if (hit + VMCOREINFO_NEEDLE.length > at[k + 1]) continue; // runs into the next part
      scannedTo(k, hit - at[k]);
      const phys = parts[k].start + (hit - at[k]) - VMCOREINFO_NEEDLE_OFFSET;
      if (seen.has(phys)) continue;
      seen.add(phys);
      const raw = await readPhysical(src, phys, MAX_NOTE);
      const note = parseVmcoreinfoNoteAt(raw, 0, phys);
      if (!note) {
        h.rejected.push({ phys, reason: diagnose(raw) });
        continue;
      }
      const c = await checkCandidate(src, phys, note, raw.readUInt32LE(4));
      if (c.problems.some((p) => p.startsWith('truncated'))) {
        h.rejected.push({ phys, reason: c.problems[0] });
        continue;
      }
      h.candidates.push(c);
      if (h.mode === 'first' && c.image) return (found = true);
    }
    return false;
  });
  if (!found) h.scannedBytes = start + before[parts.length];
  return found;
}

/**
 * `all`: every RAM byte, ascending. `first`: the likely windows, stopping at
 * the first copy consistent with the image; only if the windows held copies
 * but none consistent (conflicting notes) is the rest of RAM read too.
 */
async function scanRam(src: RamSource, h: KernelHarvest): Promise<void> {
  const seen = new Set<number>();
  if (h.mode === 'all') {
    await scanParts(src, src.ranges, h, seen);
    return;
  }
  const windows = likelyWindows(src.ranges);
  if (await scanParts(src, windows, h, seen)) return;
  if (h.candidates.length === 0) {
    h.windowsOnly = windows;
    return;
  }
  const rest = subtractRanges(src.ranges, mergeAdjacent([...windows].sort((a, b) => a.start - b.start)));
  await scanParts(src, rest, h, seen);
}

/** Picks a copy (one that maps the kernel, else the first valid) and writes the report. */
function choose(h: KernelHarvest): void {
  const usable = h.candidates.filter((c) => c.image);
  h.chosen = usable[0] ?? h.candidates[0] ?? null;
  const early = h.mode === 'first' && !!h.chosen?.image;
  const how = early
    ? 'stopped at the first note consistent with the image after'
    : h.windowsOnly
      ? `searched where kernels put it (${listedParts(h.windowsOnly)}):`
      : 'read all RAM:';
  // No timings here: info.json must be the same bytes on every mount and export of the same source.
  const scanned = `${how} ${h.scannedBytes} of ${h.ramBytes} RAM bytes`;
  for (const r of h.rejected) h.report.push(`not a usable VMCOREINFO note at physical ${hex(r.phys)}: ${r.reason}`);
  const texts = new Set(h.candidates.map((c) => c.note.text));
  if (texts.size > 1) {
    h.report.push(
      `${texts.size} different VMCOREINFO notes: ` +
        h.candidates.map((c) => `${where(c)} (${c.facts.osrelease}${c.image ? ', consistent with the image' : `: ${c.problems[0]}`})`).join(', '),
    );
  }
  const c = h.chosen;
  if (!c) {
    h.report.push(
      `no VMCOREINFO note found (${scanned}${h.windowsOnly ? '; --vmcoreinfo all reads all RAM' : ''}): ` +
        'memory.elf carries none, so drgn and crash will not see a Linux kernel; vmcore is not served',
    );
    return;
  }
  if (c.origin) {
    h.report.push(`VMCOREINFO from ${c.origin}, OSRELEASE=${c.facts.osrelease}${c.image ? ' (consistent with the image: RAM not scanned)' : ''}`);
    for (const e of c.evidence) h.report.push(`  evidence: ${e}`);
    if (!c.image) h.report.push(`vmcore not served: ${c.problems.join('; ')}`);
    return;
  }
  h.report.push(
    `VMCOREINFO note at physical ${hex(c.phys)}, OSRELEASE=${c.facts.osrelease} (${scanned}${early ? '; --vmcoreinfo all reads all RAM for other copies' : ''})`,
  );
  for (const e of c.evidence) h.report.push(`  evidence: ${e}`);
  if (!c.image) h.report.push(`vmcore not served: ${c.problems.join('; ')}`);
}

/** Parts of RAM searched, for the report: the first eight, then how many more (a map of a million ranges gives tens of thousands). */
function listedParts(parts: readonly RamRange[]): string {
  const shown = parts.slice(0, 8).map(formatRange).join(', ');
  return parts.length > 8 ? `${shown}, and ${parts.length - 8} more parts of RAM ranges` : shown;
}

function where(c: NoteCandidate): string {
  return c.origin ?? hex(c.phys);
}

/** The harvest as plain JSON for info.json. */
export function kernelSummary(h: KernelHarvest) {
  const candidate = (c: NoteCandidate) => ({
    ...(c.origin ? { origin: c.origin } : { phys: hex(c.phys) }),
    osrelease: c.facts.osrelease,
    evidence: c.evidence,
    problems: c.problems,
    ...(c.image ? { kernelImage: { phys: hex(c.image.phys), length: c.image.length, virt: '0x' + c.image.virt.toString(16) } } : {}),
  });
  return {
    vmcoreinfoScan: h.mode,
    scannedBytes: h.scannedBytes,
    ramBytes: h.ramBytes,
    chosen: h.chosen ? candidate(h.chosen) : null,
    candidates: h.candidates.map(candidate),
    rejected: h.rejected.map((r) => ({ phys: hex(r.phys), reason: r.reason })),
  };
}
