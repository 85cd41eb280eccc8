/**
 * Reading memview's views in-process (engine level, no FUSE) and comparing
 * them with expected bytes from the independent writers.
 */
import { expect } from 'vitest';
import { openSession } from '../../src/session';
import { openSource, OpenOptions } from '../../src/sources/open';
import { Source } from '../../src/sources/source';
import { buildViews, View } from '../../src/views/index';
import { Chunk, materialise } from '../helpers/machine';

export interface Opened {
  source: Source;
  views: readonly View[];
  read(name: string): Promise<Buffer>;
  close(): void;
}

export async function open(path: string, options: OpenOptions = {}): Promise<Opened> {
  const source = await openSource(path, options);
  return withViews(source, buildViews(source));
}

/** As `memview mount` opens a source: also scans its RAM for the kernel's VMCOREINFO note (vmcore view). */
export async function openAsMount(path: string, options: OpenOptions = {}): Promise<Opened> {
  const session = await openSession(path, options);
  return withViews(session.source, session.views);
}

function withViews(source: Source, views: readonly View[]): Opened {
  return {
    source,
    views,
    async read(name: string) {
      const view = views.find((v) => v.name === name);
      if (!view) throw new Error(`no view ${name}`);
      const buf = Buffer.alloc(view.file.size);
      const n = await view.file.read(buf, 0, buf.length);
      expect(n).toBe(buf.length);
      return buf;
    },
    close: () => source.close(),
  };
}

/** Equal bytes, or a failure that names the first differing offset (not a multi-MiB dump). */
export function expectSameBytes(actual: Buffer, expected: Buffer | Chunk[], what: string): void {
  const exp = Buffer.isBuffer(expected) ? expected : materialise(expected);
  if (actual.equals(exp)) return;
  let i = 0;
  while (i < Math.min(actual.length, exp.length) && actual[i] === exp[i]) i++;
  expect.fail(`${what}: ${actual.length} bytes vs ${exp.length} expected; first difference at offset 0x${i.toString(16)}`);
}
