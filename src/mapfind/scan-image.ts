import { hex } from '../errors';
import { ByteSource, readAt } from '../io/byte-source';
import { parseVmcoreinfoNoteAt, VMCOREINFO_NEEDLE, VMCOREINFO_NEEDLE_OFFSET, VmcoreinfoNote } from '../kernel/vmcoreinfo';
import { dmesgCandidate, MapCandidate, mergeIdentical } from '../maps/candidates';
import { LOG_LOOKBEHIND, LOG_NEEDLE, LOG_WINDOW, mapAt } from '../maps/scan';
import { searchSource } from '../search/needle-search';

/**
 * One sequential pass over an image for the boot log's map header and the
 * VMCOREINFO note (src/search/needle-search.ts: large reads, a SIMD search,
 * overlapping chunks); the bytes around each hit are read afterwards.
 */

const CHUNK = 2 * 1024 * 1024;
/** More hits than this is not a boot log (a file of logs, or an attack on the scanner): stop collecting. */
const MAX_HITS = 4096;
const NOTE_READ = 12 + 12 + 64 * 1024;

export interface NeedleHits {
  log: number[];
  vmcoreinfo: number[];
  /** A kind of hit hit MAX_HITS. */
  capped: boolean;
}

/** Finds every needle hit in the image (file offsets of the needle's first byte). */
export async function findNeedles(image: ByteSource, chunkSize = CHUNK, simd?: boolean): Promise<NeedleHits> {
  const r = await searchSource(image, [LOG_NEEDLE, VMCOREINFO_NEEDLE], { chunkSize, maxHits: MAX_HITS, simd });
  return { log: r.hits[0], vmcoreinfo: r.hits[1], capped: r.capped };
}

export interface ImageScan {
  /** Maps found in boot logs inside the image, identical ones merged. */
  candidates: MapCandidate[];
  /** Valid VMCOREINFO notes (offsets are image file offsets). */
  notes: VmcoreinfoNote[];
  hits: NeedleHits;
  seconds: number;
}

const FORM_WORDS = { text: 'text log', printk_log: 'printk records', printk_ringbuffer: 'printk ring buffer' } as const;

/** Scans an image for boot-log maps and VMCOREINFO notes. */
export async function scanImage(image: ByteSource): Promise<ImageScan> {
  const t0 = process.hrtime.bigint();
  const hits = await findNeedles(image);
  const found: MapCandidate[] = [];
  for (const hit of hits.log) {
    const from = Math.max(0, hit - LOG_LOOKBEHIND);
    const window = await readAt(image, from, hit - from + LOG_WINDOW);
    const m = mapAt(window, hit - from);
    if (!m) continue;
    const c = dmesgCandidate(m.map, 'image', `image offset ${hex(from + m.start)} (${FORM_WORDS[m.form]})`);
    c.form = m.form;
    found.push(c);
  }
  const notes: VmcoreinfoNote[] = [];
  for (const hit of hits.vmcoreinfo) {
    const at = hit - VMCOREINFO_NEEDLE_OFFSET;
    if (at < 0) continue;
    const note = parseVmcoreinfoNoteAt(await readAt(image, at, NOTE_READ), 0, at);
    if (note) notes.push(note);
  }
  // Live log records first: a merged group is named after its most authoritative copy.
  found.sort((a, b) => Number(a.form === 'text') - Number(b.form === 'text'));
  return { candidates: mergeIdentical(found), notes, hits, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}
