import { InputError } from '../errors';
import { candidatesFromText } from '../maps/candidates';
import { formatMapReport, mapReportJson } from '../maps/report';
import { detectFormat } from '../sources/detect';
import { ImageFile } from '../sources/image-file';
import { buildMapReport } from '../sources/map-auto';
import { readMapText } from '../sources/map-file';

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
export function mapCommand(src: string, flags: MapFlags): void {
  const image = ImageFile.open(src);
  try {
    if (image.size === 0) throw new InputError(`${src}: file is empty`);
    // LiME, AVML and ELF files carry their ranges in their headers: there is no map to search for.
    const detected = detectFormat(image, undefined);
    if (detected.format !== 'raw') {
      throw new InputError(`${src}: a ${detected.format} image (${detected.reason}) carries its own RAM ranges; 'memview info ${src}' lists them (memview map is for headerless raw images)`);
    }
    const files = [...flags.iomem, ...flags.dmesg].flatMap((f) => candidatesFromText(readMapText(f), f));
    const report = buildMapReport(image, { files, scan: !!flags.scan || files.length === 0 });
    process.stdout.write(flags.json ? JSON.stringify(mapReportJson(report), null, 2) + '\n' : formatMapReport(report));
    if (!report.choice.chosen) throw new InputError(`${src}: no map chosen: ${report.choice.reason}`);
  } finally {
    image.close();
  }
}
