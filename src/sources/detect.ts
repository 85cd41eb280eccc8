import { InputError } from '../errors';
import { RamRange, rangeEnd } from '../types';
import { hasKcoreNote } from './elf';
import { ImageFile } from './image-file';

/** The source shapes memview reads. */
export const FORMATS = ['raw', 'padded', 'lime', 'avml', 'elf', 'kcore'] as const;
export type Format = (typeof FORMATS)[number];

export interface Detection {
  format: Format;
  /** Why: shown by `memview info`. */
  reason: string;
}

/** The live kernel's core file: read with /proc/iomem as its map. */
export const LIVE_KCORE = '/proc/kcore';

/** First bytes on disk of each self-describing format (little-endian magics). */
const MAGICS: { bytes: string; format: Format; reason: string }[] = [
  { bytes: 'EMiL', format: 'lime', reason: 'LiME magic 0x4c694d45 at offset 0' },
  { bytes: 'AVML', format: 'avml', reason: 'AVML magic 0x4c4d5641 at offset 0' },
  { bytes: '\x7fELF', format: 'elf', reason: 'ELF magic at offset 0' },
];

export function parseFormat(name: string): Format {
  if ((FORMATS as readonly string[]).includes(name)) return name as Format;
  throw new InputError(`--format: unknown format ${JSON.stringify(name)}; one of: ${FORMATS.join(', ')}`);
}

/**
 * Which parser reads this image: by magic bytes; a headerless image is padded
 * when its size is exactly the map's last RAM byte + 1, raw otherwise.
 */
export function detectFormat(image: ImageFile, ranges: readonly RamRange[] | undefined): Detection {
  if (image.path === LIVE_KCORE) return { format: 'kcore', reason: 'the running kernel\'s /proc/kcore' };
  const head = image.readAt(0, 4).toString('latin1');
  const magic = MAGICS.find((m) => m.bytes === head);
  if (magic?.format === 'elf' && hasKcoreNote(image)) {
    return { format: 'kcore', reason: 'ELF core with a CORE/NT_TASKSTRUCT note: the /proc/kcore layout' };
  }
  if (magic) return { format: magic.format, reason: magic.reason };
  if (ranges && ranges.length > 0) {
    const last = rangeEnd(ranges[ranges.length - 1]);
    if (image.size === last) {
      return { format: 'padded', reason: `no header magic; file size equals the map's last RAM byte + 1 (${last})` };
    }
  }
  return { format: 'raw', reason: 'no header magic; bytes placed by the map' };
}
