/**
 * Reads the hand-written expected maps next to the map fixtures
 * (fixtures/maps/dmesg/NAME.expected): `#` comments, one inclusive
 * `0xSTART-0xEND` RAM range per line, `--` between the maps of several boots.
 * Independent of src/.
 */
import * as fs from 'node:fs';

export interface ExpectedRange {
  start: number;
  end: number;
}

export function readExpectedMaps(file: string): ExpectedRange[][] {
  const maps: ExpectedRange[][] = [[]];
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line === '--') {
      maps.push([]);
      continue;
    }
    const m = /^0x([0-9a-f]+)-0x([0-9a-f]+)$/.exec(line);
    if (!m) throw new Error(`${file}: bad expected line ${JSON.stringify(line)}`);
    maps[maps.length - 1].push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16) });
  }
  return maps;
}

/** `0xSTART-0xEND` lines, for readable diffs in test failures. */
export function formatExpected(ranges: ExpectedRange[]): string[] {
  return ranges.map((r) => `0x${r.start.toString(16)}-0x${r.end.toString(16)}`);
}
