/**
 * A memview mount with non-default settings, for bench/sweep.ts:
 *   node dist/bench/variant.js SOURCE DIR MAP SETTINGS_JSON
 * SETTINGS_JSON: { tuning?: Partial<FuseTuning>, store?: StoreSettings }.
 * Same sources, views and FUSE code as `memview mount`; only the settings differ.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ByteStore, CachedFileStore, readFully, SourceIOError } from '../src/engine/store';
import { FuseTuning, mountFiles } from '../src/fuse/mount';
import { openSource } from '../src/sources/open';
import { buildViews } from '../src/views/index';

export interface StoreSettings {
  /** cache: CachedFileStore (async preads of whole blocks); async: pread per request; sync: readSync per request. */
  kind: 'cache' | 'async' | 'sync';
  blockKiB?: number;
  cacheMiB?: number;
}

/** Reads straight from the file with a blocking pread on the event loop (no thread-pool hop). */
class SyncFileStore implements ByteStore {
  constructor(private readonly fd: number) {}
  read(target: Buffer, targetOffset: number, length: number, position: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, target, targetOffset + done, length - done, position + done);
      if (n === 0) return Promise.reject(new SourceIOError(`short read at source offset 0x${(position + done).toString(16)}`));
      done += n;
    }
    return Promise.resolve();
  }
}

function makeStore(fd: number, size: number, s: StoreSettings): ByteStore {
  if (s.kind === 'sync') return new SyncFileStore(fd);
  if (s.kind === 'async') return { read: (t, o, l, p) => readFully(fd, t, o, l, p) };
  return new CachedFileStore(fd, size, (s.blockKiB ?? 256) * 1024, (s.cacheMiB ?? 64) * 1024 * 1024);
}

async function main(): Promise<void> {
  const [src, dir, map, json] = process.argv.slice(2);
  const settings = JSON.parse(json) as { tuning?: Partial<FuseTuning>; store?: StoreSettings };
  const source = openSource(src, { map });
  const fd = fs.openSync(src, 'r');
  const store = settings.store ? makeStore(fd, source.fileSize, settings.store) : source.store;
  const views = buildViews({ ...source, store });
  const mounted = await mountFiles(path.resolve(dir), views, { mtime: source.mtime, tuning: settings.tuning });
  process.stdout.write(`variant ${json} mounted on ${dir}\n`);
  const stop = () => mounted.unmount().then(() => process.exit(0), () => process.exit(1));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: Error) => {
  process.stderr.write(`variant: ${e.message}\n`);
  process.exit(1);
});
