import { ByteSource } from '../io/byte-source';
import type { RemoteSource } from '../io/remote-source';
import { RamRange, Segment } from '../types';
import type { Format } from './detect';
import type { GivenVmcoreinfo } from './parsed';

/**
 * A source image, parsed: which physical addresses it holds and where their
 * bytes are. Every view is built from this and nothing else.
 */
export interface Source {
  path: string;
  /** Detected (or forced) format. */
  format: Format;
  /** Why that format: shown by `memview info`. */
  detectedBy: string;
  /** The RAM map: what LiME records, ELF PT_LOADs and iomem.txt describe. Sorted, disjoint. */
  ranges: RamRange[];
  /** Where the bytes of physical memory are in `bytes`. Sorted by phys, disjoint. */
  segments: Segment[];
  /** The evidence files when there are several (a FILE@ADDR list); otherwise just `path`. */
  files?: string[];
  /** The image as opened (the evidence). */
  image: ByteSource;
  /** Where `source` pieces read: the image itself, or a decoded stream of it (AVML). */
  bytes: ByteSource;
  /** Where the map came from (a file name, `image`, ...). */
  mapOrigin: string;
  /** The map was found in the image itself (`--map auto`), not given: export says which it chose. */
  mapChosenAutomatically: boolean;
  /** Observations worth an investigator's attention (quirks, repairs, merges). */
  notes: string[];
  /** VMCOREINFO the container carries (kdump sub-header); harvestKernel checks it before scanning RAM. */
  vmcoreinfo?: GivenVmcoreinfo;
  /** An http(s):// or s3:// source: its pin, cache and what it fetched. */
  remote?: RemoteSource;
  fileSize: number;
  mtime: Date;
  close(): void;
}

/** Segment offsets are offsets in the image file itself (no decoding): tools can read the file in place. */
export function readsInPlace(source: Source): boolean {
  return source.bytes === source.image && source.image.fd !== undefined;
}
