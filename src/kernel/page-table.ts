import { hex } from '../errors';
import { PAGE, RamRange, rangeHolding } from '../types';

/**
 * Is the page at `phys` the kernel's x86-64 top-level page table
 * (swapper_pg_dir = init_top_pgt) under a map? One rule, used by the map
 * chooser (`memview map`, `--map auto`) and the VMCOREINFO harvest alike.
 *
 * What a running kernel's table looks like (Linux 4.x-6.x, checked on
 * Debian's 6.1 under QEMU, 4- and 5-level):
 * - Only the kernel half (entries 256-511) is present: x86_64_start_kernel
 *   clears the table and copies in the kernel mappings; every other entry is
 *   zero (the top level never holds a non-present, non-zero entry).
 * - Entry 511 is present: it maps __START_KERNEL_map (kernel text, modules,
 *   fixmap). No entry has the page-size bit (no 512 GiB / 256 TiB pages).
 * - Each entry points at a next-level table in RAM. Many of those tables are
 *   all zeros: since 5.x x86-64 preallocates the P4D/PUD tables of the whole
 *   vmalloc area at boot (preallocate_vmalloc_pages), 64 entries under 4-level
 *   paging. That is normal, not a contradiction. The others hold present
 *   entries pointing at tables in RAM, or 1 GiB pages (PUD level only).
 * - With KPTI the PGD is an 8 KiB pair: swapper_pg_dir is the kernel copy (the
 *   first page); the user copy after it is never the one VMCOREINFO names.
 * - 5-level paging (NUMBER(pgtable_l5_enabled)=1) adds the P4D level, where
 *   the page-size bit is reserved.
 * - When the caller knows a virtual address and where it must land
 *   (SYMBOL(_stext) and NUMBER(phys_base)), the walk through the tables must
 *   translate it there, through 1 GiB / 2 MiB pages or 4 KiB ones.
 *
 * `readPage(phys)` gives the 4 KiB at a physical address under the map being
 * tested (null: no RAM there); it is only asked for pages inside `ranges`.
 */

export interface PageTableCheck {
  ok: boolean;
  /** In words a person can check: what the page holds. */
  detail: string;
}

export interface PageTableQuery {
  /** Physical address of the top-level table. */
  phys: number;
  /** Paging levels: 5 when NUMBER(pgtable_l5_enabled)=1, else 4. */
  levels: 4 | 5;
  /** A virtual address the tables must translate, and where to (e.g. _stext). */
  probe?: { name: string; virt: bigint; phys: number };
}

const ENTRIES = 512;
const PRESENT = 1n;
const PAGE_SIZE_BIT = 0x80n;
/** Physical address bits 51:12 of an entry. */
const ADDR_MASK = 0x000ffffffffff000n;
const KERNEL_TEXT_ENTRY = ENTRIES - 1;

export type PageReader = (phys: number) => Promise<Buffer | null>;

const entryAt = (page: Buffer, i: number) => page.readBigUInt64LE(i * 8);
const target = (e: bigint) => Number(e & ADDR_MASK);

const inRam = (ranges: readonly RamRange[], addr: number) => rangeHolding(ranges, addr, PAGE) !== undefined;

const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The rule (see the module comment). */
export async function checkPageTable(q: PageTableQuery, ranges: readonly RamRange[], readPage: PageReader): Promise<PageTableCheck> {
  const read = (phys: number) => (inRam(ranges, phys) ? readPage(phys) : Promise.resolve(null));
  const where = `page ${hex(q.phys)}`;
  const top = await read(q.phys);
  if (!top) return { ok: false, detail: `${where} is not RAM under this map` };

  let user = 0;
  let huge = 0;
  let outside = 0;
  let stray = 0;
  const kernel: number[] = [];
  for (let i = 0; i < ENTRIES; i++) {
    const e = entryAt(top, i);
    if (e === 0n) continue;
    if (!(e & PRESENT)) stray++;
    else if (i < ENTRIES / 2) user++;
    else if (e & PAGE_SIZE_BIT) huge++;
    else if (!inRam(ranges, target(e))) outside++;
    else kernel.push(i);
  }
  const present = kernel.length + user + huge + outside;
  if (present === 0) return { ok: false, detail: `${where} has no present entries (not a page table)` };
  if (user || huge || outside || stray) {
    const what = [
      user && `${user} in the user half`,
      huge && `${huge} with the page-size bit`,
      outside && `${outside} pointing outside RAM`,
      stray && `${count(stray, 'non-zero entry', 'non-zero entries')} not present`,
    ].filter(Boolean);
    return {
      ok: false,
      detail: `${where} is not the kernel's top-level page table: ${count(present, 'present entry', 'present entries')}, ${what.join(', ')}`,
    };
  }
  if (!kernel.includes(KERNEL_TEXT_ENTRY)) {
    return { ok: false, detail: `${where} is not the kernel's top-level page table: entry 511 (the kernel image mapping) is not present` };
  }

  // Next level: P4D tables (5-level) or PUD tables (4-level, where 1 GiB pages are allowed).
  const hugeAllowed = q.levels === 4;
  let empty = 0;
  let bad = 0;
  let firstBad = '';
  for (const i of kernel) {
    const addr = target(entryAt(top, i));
    const next = await read(addr);
    if (!next) {
      bad++;
      firstBad ||= `entry ${i} points at ${hex(addr)}, not RAM`;
      continue;
    }
    let nonzero = 0;
    for (let j = 0; j < ENTRIES; j++) {
      const e = entryAt(next, j);
      if (e === 0n) continue;
      nonzero++;
      const why = !(e & PRESENT)
        ? 'a non-zero entry that is not present'
        : e & PAGE_SIZE_BIT
          ? hugeAllowed
            ? ''
            : 'the page-size bit at the P4D level'
          : inRam(ranges, target(e))
            ? ''
            : `an entry pointing at ${hex(target(e))}, outside RAM`;
      if (why) {
        bad++;
        firstBad ||= `the table of entry ${i} (${hex(addr)}) holds ${why}`;
        break;
      }
    }
    if (nonzero === 0) empty++;
  }
  const summary = `${count(kernel.length, 'kernel-half entry', 'kernel-half entries')} into RAM (${empty} of them to all-zero tables: the preallocated vmalloc area)`;
  if (bad > 0)
    return {
      ok: false,
      detail: `${where} has ${summary}, but ${count(bad, 'next-level table')} ${bad === 1 ? 'is' : 'are'} not a page table into RAM: ${firstBad}`,
    };
  if (empty === kernel.length) return { ok: false, detail: `${where} has ${summary}, but every next-level table is empty` };

  let walked = '';
  if (q.probe) {
    const got = await translate(q, q.probe.virt, read);
    if (typeof got === 'string') return { ok: false, detail: `${where} has ${summary}, but does not map ${q.probe.name}: ${got}` };
    if (got !== q.probe.phys) {
      return { ok: false, detail: `${where} has ${summary}, but maps ${q.probe.name} to ${hex(got)}, not to ${hex(q.probe.phys)} where phys_base puts it` };
    }
    walked = `, and translates ${q.probe.name} to ${hex(got)} as phys_base says`;
  }
  return { ok: true, detail: `${where} is a ${q.levels}-level page table: ${summary}${walked}` };
}

/** Walks `virt` down from the top-level table: its physical address, or why not. */
async function translate(q: PageTableQuery, virt: bigint, read: PageReader): Promise<number | string> {
  let table = q.phys;
  for (let level: number = q.levels; level >= 1; level--) {
    const shift = BigInt(12 + 9 * (level - 1));
    const index = Number((virt >> shift) & 511n);
    const page = await read(table);
    if (!page) return `the level-${level} table at ${hex(table)} is not RAM`;
    const e = entryAt(page, index);
    if (!(e & PRESENT)) return `entry ${index} of the level-${level} table at ${hex(table)} is not present`;
    // Page-size bit: a 1 GiB page at level 3 (PUD), 2 MiB at level 2 (PMD); level 1 is the page itself.
    if (level === 1 || ((level === 2 || level === 3) && e & PAGE_SIZE_BIT)) {
      const size = 1n << shift;
      return Number((e & ADDR_MASK & ~(size - 1n)) + (virt & (size - 1n)));
    }
    table = target(e);
  }
  return 'no page reached';
}
