import { hex, InputError } from '../errors';
import { formatRange, subtractRanges } from '../maps/ranges';
import { FileSource } from '../io/file-source';
import { segmentRuns } from '../types';
import { ByteSource } from '../io/byte-source';
import { describeNotes, ElfCore, ownVmcoreinfo, physicalSegments, ramOffsetBase, readElfCore } from './elf';
import { LIVE_KCORE } from './detect';
import type { MapInput, ParsedImage } from './parsed';

/**
 * /proc/kcore, live or a file with its layout: an ELF core whose PT_LOADs map
 * kernel virtual memory (direct map, kernel image, vmalloc, vmemmap) at huge
 * sparse offsets. RAM comes from the iomem map: each System RAM range is served
 * from the PT_LOADs whose p_paddr covers it (RAM runs win over the kernel-image
 * alias; p_paddr -1 entries are not physical). Ranges may start or end
 * mid-page: KCORE_RAM entries are page-granular and cover them.
 */
export async function parseKcore(image: ByteSource, map: MapInput | undefined, known?: ElfCore): Promise<ParsedImage> {
  const core = known ?? (await readElfCore(image));
  const base = ramOffsetBase(core);
  const bytes = base === 0n ? image : fromOffset(image, base);
  const { segments, notes } = physicalSegments(bytes, core, base);
  if (base !== 0n) notes.push(`RAM segments' data starts at file offset 0x${base.toString(16)}, past 2^53 (5-level paging): read with 64-bit offsets`);
  const own = segmentRuns(segments);
  if (!map) {
    return {
      ranges: own,
      segments,
      bytes,
      vmcoreinfo: ownVmcoreinfo(image, core),
      mapOrigin: `kcore PT_LOAD p_paddr (no iomem map: page-granular RAM runs)`,
      notes: [...describeNotes(core.notes), ...notes],
    };
  }
  const missing = subtractRanges(map.ranges, own);
  for (const m of missing) notes.push(`System RAM ${formatRange(m)} (${hex(m.length)} bytes) is in no kcore PT_LOAD: served as zeros`);
  return {
    ranges: map.ranges,
    segments,
    bytes,
    vmcoreinfo: ownVmcoreinfo(image, core),
    mapOrigin: `${map.origin}, matched to kcore PT_LOADs`,
    notes: [...describeNotes(core.notes), ...notes],
  };
}

/** The kcore file's bytes from `base` on (only a local file can be read past 2^53). */
function fromOffset(image: ByteSource, base: bigint): ByteSource {
  if (!(image instanceof FileSource)) {
    throw new InputError(`${image.label}: RAM segments at file offset 0x${base.toString(16)}, past 2^53: readable in a local file only`);
  }
  return image.from(base);
}

/** Opens the running kernel's /proc/kcore; a refusal says what it takes. */
export function openLiveKcore(): FileSource {
  try {
    // Linux copies each kcore page through one buffer per open file: two preads at once can swap pages.
    return FileSource.open(LIVE_KCORE, { oneReadAtATime: true });
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    throw new InputError(
      `${e.message}; reading the live kernel's memory needs root (CAP_SYS_RAWIO), a kernel with /proc/kcore (CONFIG_PROC_KCORE) and no kernel lockdown`,
    );
  }
}
