import { InputError } from '../errors';
import { isElfMagic } from '../formats/elf64';
import { LIME_HEADER_SIZE, LIME_MAGIC } from '../formats/lime';
import { AVML_MAGIC } from '../formats/avml';
import { ByteSource, readAt } from '../io/byte-source';
import { RamRange, rangeEnd } from '../types';
import { ElfCore, isKcoreLayout, readElfCore } from './elf';
import { isFlattened, isKdumpCompressed } from './kdump';
import { isLimeZlib } from './lime-zlib';

/** The source shapes memview reads. */
export const FORMATS = ['raw', 'padded', 'lime', 'avml', 'elf', 'kcore', 'kdump', 'lime-zlib', 'ramdump'] as const;
export type Format = (typeof FORMATS)[number];

/** Formats that carry their own map: a --map given with them replaces it. */
export const SELF_DESCRIBING: readonly Format[] = ['lime', 'lime-zlib', 'avml', 'elf', 'kdump'];

export interface Detection {
  format: Format;
  /** Why: shown by `memview info`. */
  reason: string;
  /** An ELF core's headers and notes, read once by detection and handed to its parser. */
  core?: ElfCore;
}

/** The live kernel's core file: read with /proc/iomem as its map. */
export const LIVE_KCORE = '/proc/kcore';

export function parseFormat(name: string): Format {
  if ((FORMATS as readonly string[]).includes(name)) return name as Format;
  throw new InputError(`--format: unknown format ${JSON.stringify(name)}; one of: ${FORMATS.join(', ')}`);
}

/**
 * A self-describing format, by the magic at offset 0 (an ELF core with a
 * CORE NT_TASKSTRUCT note is /proc/kcore's layout, as drgn checks), or null
 * for a headerless image.
 */
export async function detectByMagic(image: ByteSource): Promise<Detection | null> {
  if (image.label === LIVE_KCORE) return { format: 'kcore', reason: "the running kernel's /proc/kcore" };
  const head = await readAt(image, 0, LIME_HEADER_SIZE);
  const magic = head.length >= 4 ? head.readUInt32LE(0) : -1;
  if (magic === LIME_MAGIC) return { format: 'lime', reason: 'LiME magic 0x4c694d45 at offset 0' };
  if (magic === AVML_MAGIC) return { format: 'avml', reason: 'AVML magic 0x4c4d5641 at offset 0' };
  if (isKdumpCompressed(head)) return { format: 'kdump', reason: 'kdump-compressed signature "KDUMP   " at offset 0' };
  if (isFlattened(head)) return { format: 'kdump', reason: 'makedumpfile flattened signature at offset 0 (makedumpfile -F)' };
  if (await isLimeZlib(image, head))
    return { format: 'lime-zlib', reason: `zlib header 0x${head[0].toString(16)} at offset 0 inflating to a LiME header (LiME compress=1)` };
  if (!isElfMagic(head)) return null;
  let core: ElfCore;
  try {
    core = await readElfCore(image);
  } catch {
    return { format: 'elf', reason: 'ELF magic at offset 0' }; // not a readable ELF core: the ELF parser says why
  }
  if (isKcoreLayout(core)) return { format: 'kcore', reason: 'ELF core with a CORE/NT_TASKSTRUCT note: the /proc/kcore layout', core };
  return { format: 'elf', reason: 'ELF magic at offset 0', core };
}

/** A headerless image is padded when its size is exactly the map's last RAM byte + 1, raw otherwise. */
export function detectHeaderless(size: number, ranges: readonly RamRange[] | undefined): Detection {
  if (ranges && ranges.length > 0) {
    const last = rangeEnd(ranges[ranges.length - 1]);
    if (size === last) return { format: 'padded', reason: `no header magic; file size equals the map's last RAM byte + 1 (${last})` };
  }
  return { format: 'raw', reason: 'no header magic; bytes placed by the map' };
}
