import { AUTO_MAP } from '../mapfind/map-auto';
import { openSession } from '../session';
import { requireView } from '../views/index';
import { exportFile, progressBar } from './export';
import { SourceFlags, sessionOptions } from './options';

export interface ExportFlags extends SourceFlags {
  view: string;
  output: string;
  force?: boolean;
}

/** `memview export`: one view to a file, the same bytes as the mount. */
export async function exportCommand(src: string, flags: ExportFlags): Promise<void> {
  const session = await openSession(src, sessionOptions(flags));
  try {
    const { source, views } = session;
    if (source.mapChosenAutomatically) process.stderr.write(`memview: map ${source.mapOrigin}\n`);
    const view = requireView(views, flags.view, src);
    const inputs = [{ path: src, role: 'the source image' }];
    if (flags.map && flags.map !== AUTO_MAP) inputs.push({ path: flags.map, role: 'the map file given with --map' });
    await exportFile({ file: view.file, output: flags.output, inputs, force: !!flags.force, progress: progressBar(process.stderr) });
  } finally {
    session.close();
  }
}
