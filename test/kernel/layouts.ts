/**
 * The guest memory layouts the real-kernel tests boot. Each is one boot that
 * does every acquisition. RAM stays small: TCG is slow and every dump is RAM-sized.
 */
export interface Layout {
  name: string;
  /** What it exercises, for the test names. */
  about: string;
  /** QEMU -m. */
  memory: string;
  /** QEMU -M. */
  machine: string;
  /** Kernel command line additions. */
  append: string[];
  /** QEMU -cpu under TCG: 4-level paging unless the layout asks for la57. */
  cpu?: string;
  /** LiME acquisitions (default all): padded above 4 GiB streams GiBs of zeros. */
  lime?: LimeName[];
  /** Why memview is not run on live /proc/kcore in this guest (default: it is). */
  noKcore?: string;
}

export const LIME_NAMES = ['lime', 'raw', 'padded', 'lime-z'] as const;
export type LimeName = (typeof LIME_NAMES)[number];

/** TCG's "max" CPU has LA57, so Debian's kernel would run 5-level paging: most machines run 4. */
export const CPU_4_LEVEL = 'max,la57=off';

export const LAYOUTS: readonly Layout[] = [
  { name: 'plain', about: '256 MiB below 4 GiB (firmware map as is)', memory: '256M', machine: 'pc', append: [] },
  {
    name: 'high',
    about: 'RAM above 4 GiB (max-ram-below-4g=128M)',
    memory: '256M',
    machine: 'pc,max-ram-below-4g=128M',
    append: [],
    // padded would stream the 3.9 GiB below 4 GiB that is not RAM as zeros: the other formats suffice here.
    lime: ['lime', 'raw', 'lime-z'],
  },
  {
    name: 'edits',
    about: 'kernel e820 edits (memmap=16M$80M, mem=224M)',
    memory: '256M',
    machine: 'pc',
    append: ['memmap=16M$0x5000000', 'mem=224M'],
  },
  {
    // LiME 1.9.1 oopses on a range starting mid-page above 1 MiB: the unaligned start stays below.
    name: 'unaligned',
    about: 'System RAM edges not page-aligned (memmap=0x800$…)',
    memory: '256M',
    machine: 'pc',
    append: ['memmap=0x800$0x10000', 'memmap=0x800$0x7fff800'],
  },
  {
    name: 'la57',
    about: '5-level paging (TCG max CPU with LA57)',
    memory: '256M',
    machine: 'pc',
    append: [],
    cpu: 'max',
    lime: ['lime', 'raw'],
    // kcore's kernel-image PT_LOAD has a p_offset past 2^53 here (its vaddr less the direct map's base).
  },
];

export function layoutsFromEnv(): Layout[] {
  const wanted = process.env.MEMVIEW_KERNEL_LAYOUTS?.split(',').filter(Boolean);
  if (!wanted) return [...LAYOUTS];
  const unknown = wanted.filter((w) => !LAYOUTS.some((l) => l.name === w));
  if (unknown.length) throw new Error(`MEMVIEW_KERNEL_LAYOUTS: unknown layout(s) ${unknown.join(', ')}; known: ${LAYOUTS.map((l) => l.name).join(', ')}`);
  return LAYOUTS.filter((l) => wanted.includes(l.name));
}
