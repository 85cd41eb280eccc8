import { AUTO_MAP } from '../mapfind/map-auto';
import { redactUrl } from '../io/remote-url';
import { openSession } from '../session';
import { remoteProgress } from './remote-progress';
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
    const view = requireView(views, flags.view, source.path);
    const inputs = (source.files ?? [source.path]).map((path) => ({ path, role: 'the source image' }));
    if (flags.map && flags.map !== AUTO_MAP) inputs.push({ path: redactUrl(flags.map), role: 'the map file given with --map' });
    // A remote source: the bytes fetched and the rate, instead of the percentage bar.
    const remote = source.remote;
    const endProgress = remote ? remoteProgress(process.stderr, remote.label, remote.stats, `export ${view.name}`) : () => {};
    try {
      await exportFile({ file: view.file, output: flags.output, inputs, force: !!flags.force, progress: remote ? () => {} : progressBar(process.stderr) });
    } finally {
      endProgress();
    }
  } finally {
    session.close();
  }
}
