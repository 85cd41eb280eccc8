/**
 * The ceiling of this stack: a trivial fuse-native passthrough that serves
 * one file read-only as DIR/<basename>, with memview's FUSE settings and
 * nothing else. Usage: node dist/bench/passthrough.js FILE DIR [--tuning JSON] [--async] [--zeros]
 * Reads are one synchronous pread, as in memview's FileStore; --async uses
 * fs.read (thread pool); --zeros answers with zeros and no I/O at all (the
 * most requests per second this FUSE stack can answer).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Fuse from 'fuse-native';
import { DEFAULT_TUNING, FuseTuning, setReadahead, tunedFuse } from '../src/fuse/mount';

const [file, dir, ...rest] = process.argv.slice(2);
const flag = (name: string) => rest.indexOf(name);
const tuning: FuseTuning = { ...DEFAULT_TUNING, ...(flag('--tuning') >= 0 ? JSON.parse(rest[flag('--tuning') + 1]) : {}) };
const asyncReads = flag('--async') >= 0;
const zeros = flag('--zeros') >= 0;
const name = '/' + path.basename(file);
const fd = fs.openSync(file, 'r');
const st = fs.fstatSync(fd);
const attr = (mode: number, size: number) => ({ mode, size, uid: 0, gid: 0, nlink: 1, mtime: st.mtime, atime: st.mtime, ctime: st.mtime });

const ops = {
  getattr: (p: string, cb: (e: number, s?: object) => void) =>
    p === '/' ? cb(0, attr(0o40555, 4096)) : p === name ? cb(0, attr(0o100444, st.size)) : cb(Fuse.ENOENT),
  readdir: (_p: string, cb: (e: number, n?: string[]) => void) => cb(0, [name.slice(1)]),
  open: (_p: string, _flags: number, cb: (e: number, fd?: number) => void) => cb(0, 0),
  release: (_p: string, _fd: number, cb: (e: number) => void) => cb(0),
  read(_p: string, _fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) {
    if (zeros) return cb(buf.fill(0, 0, len) && Math.max(0, Math.min(len, st.size - pos)));
    if (!asyncReads) return cb(fs.readSync(fd, buf, 0, len, pos));
    fs.read(fd, buf, 0, len, pos, (err, n) => cb(err ? Fuse.EIO : n));
  },
};

const fuse = tunedFuse(path.resolve(dir), ops, tuning, { fsname: 'passthrough' });
fuse.mount((err?: Error | null) => {
  if (err) throw err;
  if (tuning.readaheadKb > 0) setReadahead(path.resolve(dir), tuning.readaheadKb);
  process.stdout.write(`passthrough of ${file} on ${dir}\n`);
});
const stop = () => fuse.unmount(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
