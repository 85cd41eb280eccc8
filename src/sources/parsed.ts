import { ByteSource } from '../io/byte-source';
import { RamRange, Segment } from '../types';

/** What a format parser returns: the map and where the bytes are. */
export interface ParsedImage {
  ranges: RamRange[];
  segments: Segment[];
  mapOrigin: string;
  notes: string[];
  /** Where `source` pieces read (segment offsets): a decoded stream of its own; default the image itself. */
  bytes?: ByteSource;
  /** The kernel's VMCOREINFO text when the container carries it (kdump sub-header): no RAM scan needed. */
  vmcoreinfo?: GivenVmcoreinfo;
}

export interface GivenVmcoreinfo {
  text: string;
  /** Where it was, for `info`: e.g. "the kdump sub-header". */
  origin: string;
}

/** A map given by the user (or found in the image), parsed. */
export interface MapInput {
  ranges: RamRange[];
  origin: string;
}
