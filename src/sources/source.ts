import { ByteStore } from '../engine/store';
import { KernelHarvest } from '../kernel/harvest';
import { RamRange, Segment } from '../types';

/**
 * A source image, parsed: which physical addresses it holds and where their
 * bytes are. Every view is built from this and nothing else.
 */
export interface Source {
  path: string;
  /** Detected (or forced) format, e.g. `raw`. */
  format: string;
  /** Why that format: shown by `memview info`. */
  detectedBy: string;
  /** The RAM map: what LiME records, ELF PT_LOADs and iomem.txt describe. Sorted, disjoint. */
  ranges: RamRange[];
  /** Where the bytes of physical memory are in `store`. Sorted by phys, disjoint. */
  segments: Segment[];
  store: ByteStore;
  /** Where the map came from (a file name, `image`, ...). */
  mapOrigin: string;
  /** Observations worth an investigator's attention (quirks, repairs, merges). */
  notes: string[];
  /** The kernel's VMCOREINFO note found in RAM (set by harvestKernel after opening; absent: not scanned). */
  kernel?: KernelHarvest;
  fileSize: number;
  mtime: Date;
  close(): void;
}
