import { execFileSync } from 'node:child_process';
import { RamRange } from '../types';

/**
 * A sparse file's data extents by SEEK_DATA/SEEK_HOLE. Node has no lseek, so
 * python3's os.lseek asks the kernel, given the file's own descriptor as its
 * stdin (no second open by name: no access-time update, no other file); null
 * when that is not possible (then every byte is read). File systems without
 * hole support report one extent. FileSource only asks for a file with fewer
 * bytes allocated than its size: others have no holes.
 */
export function dataExtents(fd: number): RamRange[] | null {
  const script = [
    'import os',
    'fd = 0; end = os.fstat(fd).st_size; pos = 0',
    'while pos < end:',
    '    try: d = os.lseek(fd, pos, os.SEEK_DATA)',
    '    except OSError: break',
    '    h = os.lseek(fd, d, os.SEEK_HOLE); print(d, h - d); pos = h',
  ].join('\n');
  try {
    const out = execFileSync('python3', ['-c', script], { encoding: 'utf8', stdio: [fd, 'pipe', 'ignore'], maxBuffer: 256 << 20 });
    return out
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [start, length] = l.split(' ').map(Number);
        return { start, length };
      });
  } catch {
    return null;
  }
}
