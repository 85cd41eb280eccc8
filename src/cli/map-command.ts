import { InputError } from '../errors';
import { candidatesFromText } from '../maps/candidates';
import { FileSource } from '../io/file-source';
import { buildMapReport } from '../mapfind/map-auto';
import { readMapText } from '../mapfind/map-file';
import { formatMapReport, mapReportJson } from '../mapfind/report';
import { detectByMagic } from '../sources/detect';

export interface MapFlags {
  iomem: string[];
  dmesg: string[];
  scan?: boolean;
  json?: boolean;
}

/** commander helper for repeatable options. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `memview map`: the candidate table (or JSON); exit 2 when no map can be chosen. */
export async function mapCommand(src: string, flags: MapFlags): Promise<void> {
  const image = FileSource.open(src);
  try {
    if (image.size === 0) throw new InputError(`${src}: file is empty`);
    // LiME, AVML and ELF files carry their ranges in their headers: there is no map to search for.
    const detected = await detectByMagic(image);
    if (detected) {
      throw new InputError(`${src}: a ${detected.format} image (${detected.reason}) carries its own RAM ranges; 'memview info ${src}' lists them (memview map is for headerless raw images)`);
    }
    const files = [...flags.iomem, ...flags.dmesg].flatMap((f) => candidatesFromText(readMapText(f), f));
    const report = await buildMapReport(image, { files, scan: !!flags.scan || files.length === 0 });
    process.stdout.write(flags.json ? JSON.stringify(mapReportJson(report), null, 2) + '\n' : formatMapReport(report));
    if (!report.choice.chosen) throw new InputError(`${src}: no map chosen: ${report.choice.reason}`);
  } finally {
    image.close();
  }
}
