/**
 * A memview mount with non-default settings, for bench/sweep.ts:
 *   node dist/bench/variant.js SOURCE DIR MAP SETTINGS_JSON
 * SETTINGS_JSON: { tuning?: Partial<FuseTuning>, store?: StoreSettings }.
 * Same sources, views and FUSE code as `memview mount`; only the settings differ.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ByteSource, SourceIOError } from '../src/io/byte-source';
import { FuseTuning, mountFiles } from '../src/fuse/mount';
import { openSource } from '../src/sources/open';
import { buildViews } from '../src/views/index';
import { AsyncFileSource, CachedFileSource } from './file-stores';

export interface StoreSettings {
  /** cache: CachedFileSource (async preads of whole blocks); async: pread per request; sync: readSync per request. */
  kind: 'cache' | 'async' | 'sync';
  blockKiB?: number;
  cacheMiB?: number;
}

/** Reads straight from the file with a blocking pread on the event loop (no thread-pool hop). */
class SyncFileSource implements ByteSource {
  readonly label = 'sync';
  constructor(
    readonly fd: number,
    readonly size: number,
  ) {}
  read(target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number> {
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, target, targetOffset + done, length - done, position + done);
      if (n === 0) return Promise.reject(new SourceIOError(`short read at source offset 0x${(position + done).toString(16)}`));
      done += n;
    }
    return Promise.resolve(done);
  }
  close(): void {}
}

function makeStore(fd: number, size: number, s: StoreSettings): ByteSource {
  if (s.kind === 'sync') return new SyncFileSource(fd, size);
  if (s.kind === 'async') return new AsyncFileSource(fd, size);
  return new CachedFileSource(fd, size, (s.blockKiB ?? 256) * 1024, (s.cacheMiB ?? 64) * 1024 * 1024);
}

async function main(): Promise<void> {
  const [src, dir, map, json] = process.argv.slice(2);
  const settings = JSON.parse(json) as { tuning?: Partial<FuseTuning>; store?: StoreSettings };
  const source = await openSource(src, { map });
  const fd = fs.openSync(src, 'r');
  const bytes = settings.store ? makeStore(fd, source.fileSize, settings.store) : source.bytes;
  const views = buildViews({ ...source, bytes });
  const mounted = await mountFiles(path.resolve(dir), views, { mtime: source.mtime, tuning: settings.tuning });
  process.stdout.write(`variant ${json} mounted on ${dir}\n`);
  const stop = () =>
    mounted.unmount().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: Error) => {
  process.stderr.write(`variant: ${e.message}\n`);
  process.exit(1);
});
