import { expect, it } from 'vitest';
import { run, ROOT } from './helpers/cli';

// The README's quick start runs this demo: it must keep working end to end
// (map found in the image, mount, third-party readers, export, unmount).
it('the quick-start demo runs and checks the sample machine', async () => {
  const r = await run('bash', [`${ROOT}/scripts/demo.sh`], { timeoutMs: 120_000 });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toContain('confidence high');
  expect(r.stdout).toContain('0000000100005a5a'); // the word at physical 4 GiB, through padded.raw
  expect(r.stdout).toContain('export == mount');
  expect(r.stdout).toMatch(/demo: OK\s*$/);
});

// info.json is evidence-adjacent: the same source must give the same bytes every time.
it('info.json is the same bytes on every export of the same source', async () => {
  const { memview, tempDir } = await import('./helpers/cli');
  const dir = tempDir();
  const sample = await run(process.execPath, [`${ROOT}/dist/scripts/make-sample.js`, dir]);
  expect(sample.code).toBe(0);
  const outs = [`${dir}/a.json`, `${dir}/b.json`];
  for (const out of outs) expect((await memview('export', `${dir}/machine.raw`, '--view', 'info', '-o', out)).code).toBe(0);
  expect((await run('cmp', outs)).code).toBe(0);
});
