/** Every view's file name (one per range aside: ranges/*.bin), owned here and nowhere else. */
export const VIEW = {
  padded: 'padded.raw',
  lime: 'memory.lime',
  elf: 'memory.elf',
  vmcore: 'vmcore',
  raw: 'raw.bin',
  iomem: 'iomem.txt',
  leechcore: 'leechcore.lime',
  memmap: 'memprocfs.memmap',
  crashArgs: 'crash.args',
  readme: 'README.txt',
  info: 'info.json',
} as const;

/** A view's name: a fixed one, or one RAM range's file. */
export type ViewName = (typeof VIEW)[keyof typeof VIEW] | `ranges/${string}.bin`;
