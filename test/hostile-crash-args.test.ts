/**
 * Past about 4,600 ranges crash.args is longer than one execve argument may
 * be (issue 11, case 10): info and README.txt say so and point to vmcore.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memview, tempDir } from './helpers/cli';

describe('crash.args over the 128 KiB argument limit', () => {
  const tmp = tempDir('memview-crash-args-');
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('5,000 ranges: the kernel refuses the argument, and info and README.txt say so', async () => {
    // A LiME of 5,000 non-adjacent 4 KiB records, headers only (the data stays a sparse hole).
    const lime = path.join(tmp, 'many.lime');
    const fd = fs.openSync(lime, 'w');
    const h = Buffer.alloc(32);
    h.writeUInt32LE(0x4c694d45, 0);
    h.writeUInt32LE(1, 4);
    for (let i = 0; i < 5000; i++) {
      h.writeBigUInt64LE(BigInt(i * 0x2000), 8);
      h.writeBigUInt64LE(BigInt(i * 0x2000 + 0xfff), 16);
      fs.writeSync(fd, h, 0, 32, i * (32 + 0x1000));
    }
    fs.ftruncateSync(fd, 5000 * (32 + 0x1000));
    fs.closeSync(fd);
    const args = path.join(tmp, 'crash.args');
    expect((await memview('export', lime, '--view', 'crash.args', '-o', args, '--vmcoreinfo', 'off')).code).toBe(0);
    const text = fs.readFileSync(args, 'utf8').trimEnd();
    // The kernel itself refuses it as one argument (E2BIG).
    expect((spawnSync('/bin/true', [text]).error as NodeJS.ErrnoException | undefined)?.code).toBe('E2BIG');
    const line = `crash.args is ${text.length} bytes (5000 ranges), over the kernel's 131072-byte limit for one argument: 'crash vmlinux $(cat crash.args)' fails with "Argument list too long"; give crash vmcore (or memory.elf) instead`;
    const info = await memview('info', lime, '--vmcoreinfo', 'off');
    expect(info.stdout).toContain(`note: ${line}`);
    const readme = path.join(tmp, 'README.txt');
    expect((await memview('export', lime, '--view', 'README.txt', '-o', readme, '--vmcoreinfo', 'off')).code).toBe(0);
    expect(fs.readFileSync(readme, 'utf8')).toContain(`(cannot work here: ${line})`);
  });
});
