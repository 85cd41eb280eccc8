import { bytesPiece, Piece } from '../engine/pieces';
import { VirtualFile } from '../engine/virtual-file';
import { formatIomem } from '../maps/iomem';
import { Source } from '../sources/source';
import { physicalElfPieces } from './elf';
import { infoJson } from './info';
import { limePieces } from './lime';
import { paddedPieces, rawPieces } from './ram-pieces';

/** One file of a mount (or of `memview export`), path relative to the mount root. */
export interface View {
  name: string;
  description: string;
  file: VirtualFile;
}

/**
 * Every view of a source, built once at mount time. The order is the order
 * of `ls` and of `memview info`.
 */
export function buildViews(source: Source): View[] {
  const { segments, ranges, store } = source;
  const make = (name: string, description: string, pieces: Piece[]): View => ({
    name,
    description,
    file: new VirtualFile(pieces, store),
  });
  const views: View[] = [
    make('padded.raw', 'padded image: file offset = physical address (Volatility, LiME format=padded)', paddedPieces(segments, ranges)),
    make('memory.lime', 'LiME v1: one header per RAM range (Volatility, LiME format=lime)', limePieces(segments, ranges)),
    make('memory.elf', 'ELF64 core, one PT_LOAD per RAM range (Volatility, crash, MemProcFS)', physicalElfPieces(segments, ranges)),
    make('raw.bin', 'RAM ranges concatenated, no map (LiME format=raw); pair with iomem.txt', rawPieces(segments, ranges)),
    make('iomem.txt', 'the RAM map in /proc/iomem syntax', [bytesPiece(Buffer.from(formatIomem(ranges)))]),
  ];
  views.push(make('info.json', 'source, map and view sizes (machine-readable)', [bytesPiece(Buffer.from(infoJson(source, views)))]));
  return views;
}

export function findView(views: readonly View[], name: string): View | undefined {
  return views.find((v) => v.name === name || v.name.replace(/\.[^.]*$/, '') === name);
}
