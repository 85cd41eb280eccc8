import { InputError } from '../errors';
import { buildMapReport } from '../mapfind/map-auto';
import { readMapText } from '../mapfind/map-file';
import { formatMapReport, mapReportJson } from '../mapfind/report';
import { candidatesFromText } from '../maps/candidates';
import { openHeaderless } from '../sources/open';

export interface MapFlags {
  iomem: string[];
  dmesg: string[];
  scan?: boolean;
  json?: boolean;
}

/** `memview map`: the candidate table (or JSON); exit 2 when no map can be chosen. */
export async function mapCommand(src: string, flags: MapFlags): Promise<void> {
  const image = await openHeaderless(src);
  try {
    const files = [...flags.iomem, ...flags.dmesg].flatMap((f) => candidatesFromText(readMapText(f), f));
    const report = await buildMapReport(image, { files, scan: !!flags.scan || files.length === 0 });
    process.stdout.write(flags.json ? JSON.stringify(mapReportJson(report), null, 2) + '\n' : formatMapReport(report));
    if (!report.choice.chosen) throw new InputError(`${src}: no map chosen: ${report.choice.reason}`);
  } finally {
    image.close();
  }
}
