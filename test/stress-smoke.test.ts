/**
 * A few seconds of `npm run stress` (the full run is 8 readers x 60 s, outside
 * the test suite): concurrent reader processes over every file of a
 * --direct-io mount (every read reaches memview), compared with references.
 */
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { ROOT, run } from './helpers/cli';

it('concurrent readers over every view: no mismatch, bounded RSS, still serving, source unchanged', async () => {
  const r = await run(process.execPath, [path.join(ROOT, 'dist', 'bench', 'stress.js'), '--seconds', '3', '--readers', '3', '--mib', '16', '--direct-io']);
  expect(r.stderr).not.toMatch(/FAIL/);
  expect(r.code).toBe(0);
  const summary = JSON.parse(r.stdout);
  expect(summary).toMatchObject({ mismatches: 0, stillServing: true, sourceUnchanged: true, directIo: true });
  expect(summary.reads).toBeGreaterThan(100);
  expect(summary.files).toBeGreaterThanOrEqual(6);
  expect(summary.peakRssMiB).toBeLessThan(143);
});
