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
