import { bytesTable, PieceTable } from '../engine/piece-table';
import { VirtualFile } from '../engine/virtual-file';
import { InputError } from '../errors';
import { KernelHarvest } from '../kernel/harvest';
import { formatIomemBytes } from '../maps/iomem';
import { Source } from '../sources/source';
import { coreViews } from './cores';
import { helperViews } from './helpers';
import { infoJson } from './info';
import { limeTable } from './lime';
import { VIEW, ViewName } from './names';
import { paddedTable, rawTable } from './ram-pieces';
import { readmeText } from './readme';

/** One file of a mount (or of `memview export`), path relative to the mount root. */
export interface View {
  name: ViewName;
  description: string;
  file: VirtualFile;
  /** What the view had to do or could not do (shown by `info`). */
  notes?: string[];
}

/**
 * Every view of a source, built once at mount time. The order is the order
 * of `ls` and of `memview info`. `kernel`: the VMCOREINFO search's result
 * (memory.elf and vmcore carry the note; absent: not searched).
 */
export function buildViews(source: Source, kernel?: KernelHarvest): View[] {
  const { segments, ranges, bytes } = source;
  const make = (name: ViewName, description: string, table: PieceTable, notes?: string[]): View => ({
    name,
    description,
    file: new VirtualFile(table, bytes),
    ...(notes && notes.length > 0 ? { notes } : {}),
  });
  const lime = limeTable(segments, ranges);
  const views: View[] = [
    make(VIEW.padded, 'padded image: file offset = physical address (Volatility, LiME format=padded)', paddedTable(segments, ranges)),
    make(VIEW.lime, 'LiME v1: one header per RAM range (Volatility, LiME format=lime)', lime),
    ...coreViews(source, kernel).map((c) => make(c.name, c.description, c.table, c.notes)),
    make(VIEW.raw, 'RAM ranges concatenated, no map (LiME format=raw); pair with iomem.txt', rawTable(segments, ranges)),
    make(VIEW.iomem, 'the RAM map in /proc/iomem syntax', bytesTable(formatIomemBytes(ranges))),
    ...helperViews(source, lime).map((c) => make(c.name, c.description, c.table, c.notes)),
  ];
  views.push(
    make(
      VIEW.readme,
      'which file to give to which tool, with command lines',
      bytesTable(
        Buffer.from(
          readmeText(
            source,
            kernel,
            views.map((v) => v.name),
          ),
        ),
      ),
    ),
  );
  views.push(make(VIEW.info, 'source, map and view sizes (machine-readable)', bytesTable(Buffer.from(infoJson(source, views, kernel)))));
  return views;
}

/** Short names for `--view`: the format a user asks for. */
const SHORT_NAMES: Record<string, ViewName> = { lime: VIEW.lime, elf: VIEW.elf };

/** A view by full name (`memory.elf`), name without extension (`padded`, `raw`), or short name (`lime`, `elf`). */
export function findView(views: readonly View[], name: string): View | undefined {
  const full = SHORT_NAMES[name] ?? name;
  return views.find((v) => v.name === full) ?? views.find((v) => v.name.replace(/\.[^./]*$/, '') === name);
}

/** The view names for a message; a machine's many ranges/*.bin files (in a row) as one entry. */
function viewNames(views: readonly View[]): string {
  const names = views.map((v) => v.name);
  const first = names.findIndex((n) => n.startsWith('ranges/'));
  const count = names.filter((n) => n.startsWith('ranges/')).length;
  if (count <= 4) return names.join(', ');
  return [...names.slice(0, first), `ranges/… (${count} files, listed by memview info)`, ...names.slice(first + count)].join(', ');
}

/** `--view NAME` of `src`: the view, or an InputError saying why there is none (vmcore needs a kernel note). */
export function requireView(views: readonly View[], name: string, src: string): View {
  const view = findView(views, name);
  if (view) return view;
  if (name === VIEW.vmcore) {
    throw new InputError(
      `--view: vmcore is not served for ${src}: no usable VMCOREINFO note in its RAM (memview info says why); memory.elf is the physical core`,
    );
  }
  throw new InputError(`--view: unknown view ${JSON.stringify(name)}; one of: ${viewNames(views)}`);
}
