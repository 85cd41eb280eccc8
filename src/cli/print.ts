import { escapeControl, human } from '../errors';
import { Session } from '../session';
import { describeSource } from '../views/info';

/** Everything the CLI prints for people: sizes, plurals, the `info` table. */

export const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** A message on one line: the CLI's error lines never wrap; a newline in a file name shows as \n. */
export function oneLine(s: string): string {
  return escapeControl(s.trim());
}

/** `memview info` for people: the facts of info.json as a table. */
export function printInfo(session: Session, out: NodeJS.WritableStream = process.stdout): void {
  const { views } = session;
  const d = describeSource(session.source, views, session.kernel);
  out.write(`source   ${escapeControl(d.source.path)}\n`);
  out.write(`format   ${d.source.format} (${d.source.detectedBy})\n`);
  out.write(`size     ${d.source.size} bytes (${human(d.source.size)})\n`);
  out.write(`mtime    ${d.source.mtime}\n`);
  const remote = session.source.remote;
  if (d.remote && remote) {
    const r = d.remote;
    out.write(`remote   ETag ${r.etag ?? '(none)'}, Last-Modified ${r.lastModified ?? '(none)'}, version ${r.versionId ?? '(none)'}; pinned: ${r.pinnedBy}\n`);
    out.write(
      `cache    ${human(r.cacheBytes)} of ${human(r.blockSize)} blocks; fetched so far ${remote.stats.bytesFetched} bytes in ${plural(remote.stats.requests, 'request')}\n`,
    );
    for (const sc of remote.scans)
      out.write(`scan     ${sc.what}: fetched ${sc.fetched} bytes (${human(sc.fetched)}) of a ${human(sc.budget)} budget (--remote-scan-mb)\n`);
  }
  out.write(`map      ${d.map.origin}: ${plural(d.map.rangeCount, 'RAM range')}, ${d.map.ramBytes} bytes (${human(d.map.ramBytes)})\n`);
  for (const r of d.map.ranges) out.write(`  ${r.start.padStart(14)} - ${r.end.padEnd(14)} ${human(r.length).padStart(10)}\n`);
  if (d.map.rangesNote) out.write(`  ... ${d.map.rangesLeftOut} more: ${d.map.rangesNote}\n`);
  out.write('views\n');
  const listed = withRangeFilesFolded(views);
  const width = listed.reduce((w, v) => Math.max(w, v.name.length), 14);
  for (const v of listed) {
    out.write(`  ${v.name.padEnd(width)} ${String(v.size).padStart(16)}  ${v.description}\n`);
    for (const n of v.notes ?? []) out.write(`  ${''.padEnd(width)} ${''.padStart(16)}  note: ${n}\n`);
  }
  for (const n of d.notes) out.write(`note     ${n}\n`);
}

/** Past this many ranges/*.bin files, `info` and the mount banner show them as one line. */
const LISTED_RANGE_FILES = 16;

/** The views as listed for people: many ranges/*.bin files folded into one line (their count and total size). */
function withRangeFilesFolded(views: Session['views']): { name: string; size: number; description: string; notes?: string[] }[] {
  const all = views.map((v) => ({ name: v.name, size: v.file.size, description: v.description, notes: v.notes }));
  const files = all.filter((v) => v.name.startsWith('ranges/'));
  if (files.length <= LISTED_RANGE_FILES) return all;
  const first = all.findIndex((v) => v.name.startsWith('ranges/'));
  const folded = {
    name: 'ranges/*.bin',
    size: files.reduce((n, f) => n + f.size, 0),
    description: `${files.length} files, one per RAM range (${files[0].name} ... ${files[files.length - 1].name}); ls the mount's ranges/ for all`,
  };
  return [...all.slice(0, first), folded, ...all.slice(first).filter((v) => !v.name.startsWith('ranges/'))];
}

/** The file list `memview mount` prints once mounted. */
export function printMounted(
  session: Session,
  src: string,
  mountpoint: string,
  unmountHint: string,
  backend: string,
  out: NodeJS.WritableStream = process.stdout,
): void {
  const { views, source } = session;
  const listed = withRangeFilesFolded(views);
  const width = listed.reduce((w, v) => Math.max(w, v.name.length), 0);
  // One write: a reader that waits for ' mounted on ' sees the whole listing with it.
  out.write(
    [
      `memview: ${source.format} image ${escapeControl(src)} mounted on ${escapeControl(mountpoint)} (${views.length} files); to unmount: Ctrl-C, or ${unmountHint}`,
      ...listed.map((v) => `  ${v.name.padEnd(width)} ${v.size}`),
      `  map: ${source.mapOrigin}`,
      ...(source.remote ? [`  remote: ${human(source.remote.stats.bytesFetched)} fetched to mount, of ${human(source.remote.size)}`] : []),
      `  served by: ${backend}`,
    ].join('\n') + '\n',
  );
}
