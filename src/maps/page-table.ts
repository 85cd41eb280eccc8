import { hex } from '../errors';
import { PAGE, RamRange, rangeHolding } from '../types';

/**
 * Does a page look like the kernel's top-level x86-64 page table
 * (swapper_pg_dir / init_top_pgt)? Pure: the caller supplies the bytes of a
 * physical page under the map being tested.
 *
 * A running kernel's top-level table has present entries only in the upper
 * (kernel) half, none with the PS bit, each pointing at a next-level table in
 * RAM; those tables in turn have present entries whose addresses (when they
 * are not huge pages) are in RAM. Random data, text, zeros, or RAM of the
 * wrong place fail one of these.
 */

const ENTRIES = 512;
const PRESENT = 1n;
const HUGE = 0x80n;
const ADDR_MASK = 0x000ffffffffff000n;

export interface PageTableCheck {
  ok: boolean;
  /** In words a person can check: what the page holds. */
  detail: string;
}

function inRam(ranges: readonly RamRange[], addr: number): boolean {
  return rangeHolding(ranges, addr, PAGE) !== undefined;
}

interface Entry {
  index: number;
  addr: number;
  huge: boolean;
}

function presentEntries(page: Buffer): Entry[] {
  const out: Entry[] = [];
  for (let i = 0; i < ENTRIES; i++) {
    const e = page.readBigUInt64LE(i * 8);
    if (e & PRESENT) out.push({ index: i, addr: Number(e & ADDR_MASK), huge: (e & HUGE) !== 0n });
  }
  return out;
}

/**
 * Checks the page at `phys` as a top-level table and its next-level tables.
 * `readPage(phys)` returns the 4 KiB at a physical address under the map, or
 * null when the map has no RAM there.
 */
export async function checkTopLevelPageTable(phys: number, ranges: readonly RamRange[], readPage: (phys: number) => Promise<Buffer | null>): Promise<PageTableCheck> {
  const where = `page ${hex(phys)}`;
  const page = await readPage(phys);
  if (!page) return { ok: false, detail: `${where} is not RAM under this map` };
  const top = presentEntries(page);
  if (top.length === 0) return { ok: false, detail: `${where} has no present entries (not a page table)` };
  const lower = top.filter((e) => e.index < ENTRIES / 2).length;
  const huge = top.filter((e) => e.huge).length;
  const outside = top.filter((e) => !inRam(ranges, e.addr)).length;
  if (lower > 0 || huge > 0 || outside > 0) {
    return {
      ok: false,
      detail: `${where} is not a kernel top-level page table: ${top.length} present entries, ${lower} in the user half, ${huge} with the huge-page bit, ${outside} pointing outside RAM`,
    };
  }
  let badNext = 0;
  for (const e of top) {
    const next = await readPage(e.addr);
    const entries = next ? presentEntries(next) : [];
    if (entries.length === 0 || entries.some((n) => !n.huge && !inRam(ranges, n.addr))) badNext++;
  }
  if (badNext > 0) {
    return { ok: false, detail: `${where} has ${top.length} kernel-half entries, but ${badNext} of the tables they point to are not page tables into RAM` };
  }
  return {
    ok: true,
    detail: `${where} is a page table: ${top.length} present entries, all in the kernel half, pointing at ${top.length} next-level tables in RAM whose entries point into RAM`,
  };
}
