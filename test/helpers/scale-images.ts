/**
 * Images with a very large number of RAM ranges (issue 11 case 8), for the
 * scale tests and the bench's scale rows. Nothing here imports src/: the
 * layouts come from the format descriptions (formats.md sections 2.1, 3).
 *
 * Range i starts at `starts[i]` and is `length` bytes long; the gaps between
 * ranges vary (1 to 4 pages, then `step`-aligned), so a reader that joins
 * ranges across the smallest gaps has real choices to make. With `fill`, each
 * range holds ramBytes (its own address in every word, xor the salt); without
 * it the data is a sparse-file hole (zeros), for the bench's GiB-sized files.
 */
import * as fs from 'node:fs';
import { ramBytes, Range } from './machine';

export type ScaleKind = 'lime' | 'iomem' | 'elf';
export const SCALE_KINDS: readonly ScaleKind[] = ['lime', 'iomem', 'elf'];

export interface ScaleLayout {
  count: number;
  /** Bytes of every range. */
  length: number;
  starts: Float64Array;
}

export interface ScaleImage extends ScaleLayout {
  kind: ScaleKind;
  /** The image file, and the --map file for a raw image. */
  image: string;
  map?: string;
  fill: boolean;
  salt: number;
}

const PAGE = 4096;
const LIME_HEADER = 32;
const EHDR = 64;
const PHDR = 56;
const SHDR = 64;
const PN_XNUM = 0xffff;

/** `count` ranges of `length` bytes, page-aligned, gaps of 1 to 4 pages beyond the range's own pages. */
export function scaleLayout(count: number, length = PAGE): ScaleLayout {
  const starts = new Float64Array(count);
  const own = Math.ceil(length / PAGE) * PAGE;
  let at = PAGE; // page 0 is not RAM on a PC
  for (let i = 0; i < count; i++) {
    starts[i] = at;
    at += own + PAGE * (1 + ((i * 7919) % 4));
  }
  return { count, length, starts };
}

export function scaleRanges(layout: ScaleLayout): Range[] {
  return Array.from(layout.starts, (s) => ({ start: s, end: s + layout.length - 1 }));
}

/** The /proc/iomem text of the layout: one System RAM line per range (no other lines: a million ranges is the point). */
export function scaleIomem(layout: ScaleLayout): string {
  const h = (n: number) => n.toString(16).padStart(8, '0');
  const lines: string[] = new Array(layout.count);
  for (let i = 0; i < layout.count; i++) lines[i] = `${h(layout.starts[i])}-${h(layout.starts[i] + layout.length - 1)} : System RAM\n`;
  return lines.join('');
}

/** Writes `buf` at `pos`, then forgets it: batches of records go out in one write. */
class BatchWriter {
  private parts: Buffer[] = [];
  private size = 0;
  private at = 0;

  constructor(private readonly fd: number) {}

  /** Starts a contiguous run at `pos` (flushing the previous one). */
  seek(pos: number): void {
    this.flush();
    this.at = pos;
  }

  push(b: Buffer): void {
    this.parts.push(b);
    this.size += b.length;
    if (this.size >= 4 << 20) this.flush();
  }

  /** Skips `n` bytes (a hole): flushes what came before. */
  skip(n: number): void {
    this.flush();
    this.at += n;
  }

  flush(): void {
    if (this.size === 0) return;
    const b = Buffer.concat(this.parts, this.size);
    fs.writeSync(this.fd, b, 0, b.length, this.at);
    this.at += b.length;
    this.parts = [];
    this.size = 0;
  }
}

function limeHeader(start: number, endInclusive: number): Buffer {
  const h = Buffer.alloc(LIME_HEADER);
  h.write('EMiL', 0, 'latin1');
  h.writeUInt32LE(1, 4);
  h.writeBigUInt64LE(BigInt(start), 8);
  h.writeBigUInt64LE(BigInt(endInclusive), 16);
  return h;
}

/** Where the ELF core writer puts range i's data: after the headers, page-aligned, back to back. */
export function elfDataOffset(layout: ScaleLayout, i: number): number {
  const headers = EHDR + layout.count * PHDR;
  return Math.ceil(headers / PAGE) * PAGE + i * layout.length;
}

/**
 * Writes one image of `kind`: a LiME with one record per range, a raw image
 * (ranges concatenated) + an iomem map, or an ELF core with one PT_LOAD per
 * range (PN_XNUM past 65,534: e_phnum 0xffff, section header 0's sh_info the count).
 */
export function writeScaleImage(kind: ScaleKind, layout: ScaleLayout, image: string, opts: { fill?: boolean; salt?: number } = {}): ScaleImage {
  const fill = !!opts.fill;
  const salt = opts.salt ?? 0;
  const { count, length, starts } = layout;
  const data = (i: number) => ramBytes(starts[i], length, salt);
  const fd = fs.openSync(image, 'w');
  const w = new BatchWriter(fd);
  let size: number;
  let map: string | undefined;
  try {
    if (kind === 'lime') {
      for (let i = 0; i < count; i++) {
        w.push(limeHeader(starts[i], starts[i] + length - 1));
        if (fill) w.push(data(i));
        else w.skip(length);
      }
      size = count * (LIME_HEADER + length);
    } else if (kind === 'iomem') {
      map = image + '.iomem';
      fs.writeFileSync(map, scaleIomem(layout));
      if (fill) for (let i = 0; i < count; i++) w.push(data(i));
      size = count * length;
    } else {
      const xnum = count >= PN_XNUM;
      const dataStart = elfDataOffset(layout, 0);
      const shoff = dataStart + count * length;
      const eh = Buffer.alloc(EHDR);
      eh.write('\x7fELF', 0, 'latin1');
      eh[4] = 2; // ELFCLASS64
      eh[5] = 1; // little-endian
      eh[6] = 1;
      eh.writeUInt16LE(4, 16); // ET_CORE
      eh.writeUInt16LE(62, 18); // x86-64
      eh.writeUInt32LE(1, 20);
      eh.writeBigUInt64LE(BigInt(EHDR), 32); // e_phoff
      eh.writeBigUInt64LE(xnum ? BigInt(shoff) : 0n, 40); // e_shoff
      eh.writeUInt16LE(EHDR, 52);
      eh.writeUInt16LE(PHDR, 54);
      eh.writeUInt16LE(xnum ? PN_XNUM : count, 56);
      eh.writeUInt16LE(SHDR, 58);
      eh.writeUInt16LE(xnum ? 1 : 0, 60);
      w.push(eh);
      for (let i = 0; i < count; i++) {
        const ph = Buffer.alloc(PHDR);
        ph.writeUInt32LE(1, 0); // PT_LOAD
        ph.writeUInt32LE(4, 4); // PF_R
        ph.writeBigUInt64LE(BigInt(elfDataOffset(layout, i)), 8);
        ph.writeBigUInt64LE(BigInt(starts[i]), 16);
        ph.writeBigUInt64LE(BigInt(starts[i]), 24);
        ph.writeBigUInt64LE(BigInt(length), 32);
        ph.writeBigUInt64LE(BigInt(length), 40);
        ph.writeBigUInt64LE(BigInt(PAGE), 48);
        w.push(ph);
      }
      w.seek(dataStart);
      if (fill) for (let i = 0; i < count; i++) w.push(data(i));
      size = shoff;
      if (xnum) {
        const sh = Buffer.alloc(SHDR);
        sh.writeUInt32LE(count, 44); // sh_info: the real e_phnum
        w.seek(shoff);
        w.push(sh);
        size += SHDR;
      }
    }
    w.flush();
    fs.ftruncateSync(fd, size);
  } finally {
    fs.closeSync(fd);
  }
  return { ...layout, kind, image, map, fill, salt };
}

/** `memview info|mount` arguments for the image (the map of a raw image). */
export function scaleSourceArgs(img: ScaleImage): string[] {
  return img.map ? [img.image, '--map', img.map] : [img.image];
}
