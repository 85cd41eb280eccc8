import { Piece } from '../engine/pieces';
import { Source } from '../sources/source';
import { elfCorePieces, physicalElfLoads, physicalLoads, prstatusNote } from './elf';

export interface CoreView {
  name: string;
  description: string;
  pieces: Piece[];
  notes: string[];
}

/** memory.elf (physical core for analysis frameworks). */
export function coreViews(source: Source): CoreView[] {
  const { loads, notes } = physicalLoads(source.ranges);
  const physical = physicalElfLoads(source.segments, loads);
  return [
    {
      name: 'memory.elf',
      description: 'ELF64 core, page-rounded PT_LOADs by physical address (Volatility, MemProcFS, crash)',
      pieces: elfCorePieces(prstatusNote(), physical),
      notes,
    },
  ];
}
