/**
 * Real third-party readers (binutils readelf, elfutils eu-readelf) on what
 * `memview export` writes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_RANGES, writeMachine } from './helpers/machine';
import { memview, run } from './helpers/cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'memview-interop-'));
let memoryElf = '';

beforeAll(async () => {
  const m = writeMachine(path.join(tmp, 'sample'), SAMPLE_RANGES, 0x31);
  memoryElf = path.join(tmp, 'memory.elf');
  const r = await memview('export', m.raw, '--map', m.iomem, '--view', 'memory.elf', '-o', memoryElf);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}, 30_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('memory.elf with real ELF readers', () => {
  it('readelf -h -l -n: no warnings, the CORE note and every PT_LOAD', async () => {
    const r = await run('readelf', ['-W', '-h', '-l', '-n', memoryElf]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toMatch(/warning/i);
    expect(r.stdout).toMatch(/Type:\s+CORE \(Core file\)/);
    expect(r.stdout).toMatch(/CORE\s+0x00000150\s+NT_PRSTATUS/);
    expect(r.stdout.match(/^\s+LOAD\s/gm)).toHaveLength(3);
  });

  it('eu-readelf -l -n: no warnings, PRSTATUS of 336 bytes', async () => {
    const r = await run('eu-readelf', ['-l', '-n', memoryElf]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/CORE\s+336\s+PRSTATUS/);
    expect(r.stdout.match(/^\s+LOAD\s/gm)).toHaveLength(3);
  });
});
