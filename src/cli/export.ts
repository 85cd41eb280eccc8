import * as fs from 'node:fs';
import { VirtualFile } from '../engine/virtual-file';
import { InputError } from '../errors';

// 128 KiB stays in the CPU cache between the pread and the pwrite: measured 2-3x faster than 4 MiB (README Performance).
const CHUNK = 128 * 1024;

/**
 * Writes a virtual file to disk. Zero pieces are skipped with a seek, so
 * holes stay holes (a sparse file) and a padded image of a machine with a
 * multi-GiB PCI hole costs only its RAM in disk blocks.
 */
export async function exportFile(file: VirtualFile, outPath: string, sourcePath: string, force: boolean, progress: (done: number, total: number) => void): Promise<void> {
  if (fs.existsSync(outPath)) {
    if (fs.realpathSync(outPath) === fs.realpathSync(sourcePath)) throw new InputError(`${outPath}: is the source image; refusing to overwrite evidence`);
    if (!force) throw new InputError(`${outPath}: already exists; pass --force to overwrite`);
  }
  const fd = fs.openSync(outPath, 'w');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    let done = 0;
    for (const piece of file.layout()) {
      if (piece.kind === 'zero') {
        done += piece.length;
        progress(done, file.size);
        continue;
      }
      let pos = piece.start;
      const end = piece.start + piece.length;
      while (pos < end) {
        const n = await file.read(buf, pos, Math.min(CHUNK, end - pos));
        fs.writeSync(fd, buf, 0, n, pos);
        pos += n;
        done += n;
        progress(done, file.size);
      }
    }
    fs.ftruncateSync(fd, file.size);
  } finally {
    fs.closeSync(fd);
  }
}

/** A one-line progress bar on a terminal, nothing otherwise. */
export function progressBar(stream: NodeJS.WriteStream): (done: number, total: number) => void {
  if (!stream.isTTY) return () => {};
  let last = -1;
  return (done, total) => {
    const pct = total ? Math.floor((done / total) * 100) : 100;
    if (pct === last) return;
    last = pct;
    const width = 30;
    const fill = Math.round((pct / 100) * width);
    stream.write(`\r[${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${pct}% ${(done / 2 ** 20).toFixed(0)}/${(total / 2 ** 20).toFixed(0)} MiB`);
    if (done >= total) stream.write('\n');
  };
}
