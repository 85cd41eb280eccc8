import { bytesPiece, Piece } from '../engine/pieces';
import { VirtualFile } from '../engine/virtual-file';
import { formatIomem } from '../maps/iomem';
import { Source } from '../sources/source';
import { coreViews } from './cores';
import { helperViews } from './helpers';
import { infoJson } from './info';
import { limePieces } from './lime';
import { paddedPieces, rawPieces } from './ram-pieces';
import { readmeText } from './readme';

/** One file of a mount (or of `memview export`), path relative to the mount root. */
export interface View {
  name: string;
  description: string;
  file: VirtualFile;
  /** What the view had to do or could not do (shown by `info`). */
  notes?: string[];
}

/**
 * Every view of a source, built once at mount time. The order is the order
 * of `ls` and of `memview info`.
 */
export function buildViews(source: Source): View[] {
  const { segments, ranges, bytes } = source;
  const make = (name: string, description: string, pieces: Piece[], notes?: string[]): View => ({
    name,
    description,
    file: new VirtualFile(pieces, bytes),
    ...(notes && notes.length > 0 ? { notes } : {}),
  });
  const views: View[] = [
    make('padded.raw', 'padded image: file offset = physical address (Volatility, LiME format=padded)', paddedPieces(segments, ranges)),
    make('memory.lime', 'LiME v1: one header per RAM range (Volatility, LiME format=lime)', limePieces(segments, ranges)),
    ...coreViews(source).map((c) => make(c.name, c.description, c.pieces, c.notes)),
    make('raw.bin', 'RAM ranges concatenated, no map (LiME format=raw); pair with iomem.txt', rawPieces(segments, ranges)),
    make('iomem.txt', 'the RAM map in /proc/iomem syntax', [bytesPiece(Buffer.from(formatIomem(ranges)))]),
    ...helperViews(source).map((c) => make(c.name, c.description, c.pieces, c.notes)),
  ];
  views.push(make('README.txt', 'which file to give to which tool, with command lines', [bytesPiece(Buffer.from(readmeText(source, views.map((v) => v.name))))]));
  views.push(make('info.json', 'source, map and view sizes (machine-readable)', [bytesPiece(Buffer.from(infoJson(source, views)))]));
  return views;
}

/** Short names for `--view`: the format a user asks for. */
const SHORT_NAMES: Record<string, string> = { lime: 'memory.lime', elf: 'memory.elf' };

/** A view by full name (`memory.elf`), name without extension (`padded`, `raw`), or short name (`lime`, `elf`). */
export function findView(views: readonly View[], name: string): View | undefined {
  const full = SHORT_NAMES[name] ?? name;
  return views.find((v) => v.name === full) ?? views.find((v) => v.name.replace(/\.[^./]*$/, '') === name);
}
