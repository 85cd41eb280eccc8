/**
 * memory.elf and vmcore of a synthetic kernel machine, read by the real
 * kernel tools: drgn and crash through a real FUSE mount, readelf,
 * eu-readelf and gdb on `memview export` output (byte-identical to the mount).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memview, run, RunningMount, startMount, tempDir } from './helpers/cli';
import { drgnReads, DrgnRead } from './helpers/drgn';
import { kernelMachine, kernelPhysical, writeKernelMachine } from './helpers/kernel';
import { readElf } from './helpers/elf-reader';
import { rangeLength } from './helpers/machine';

const km = kernelMachine();
const tmp = tempDir('memview-kernel-');
const files = writeKernelMachine(path.join(tmp, 'src'), km);
const dir = path.join(tmp, 'mnt');
const exported = { elf: path.join(tmp, 'memory.elf'), vmcore: path.join(tmp, 'vmcore') };
let mount: RunningMount;

beforeAll(async () => {
  mount = await startMount(files.raw, dir, ['--map', files.iomem]);
  for (const [view, out] of [
    ['memory.elf', exported.elf],
    ['vmcore', exported.vmcore],
  ]) {
    const r = await memview('export', files.raw, '--map', files.iomem, '--view', view, '-o', out);
    expect(r).toMatchObject({ code: 0, stderr: '' });
  }
});
afterAll(async () => {
  await mount?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('kernel tools through the FUSE mount', () => {
  it('drgn on memory.elf: a Linux kernel core; physical reads at the start, middle and end of every range equal the machine', async () => {
    const reads: DrgnRead[] = km.ranges.flatMap((r) =>
      [r.start, r.start + Math.floor(rangeLength(r) / 2), r.end - 63].map((a) => ({ address: BigInt(a), size: 64, physical: true })),
    );
    const out = await drgnReads(path.join(dir, 'memory.elf'), reads);
    expect(out.linux_kernel).toBe(true);
    out.reads.forEach((hex, i) =>
      expect(hex, `phys 0x${reads[i].address.toString(16)}`).toBe(kernelPhysical(km, Number(reads[i].address), 64).toString('hex')),
    );
  });

  it('drgn on vmcore: virtual reads of init_uts_ns (kernel-image loads) and of the direct map (through the kernel page tables)', async () => {
    const out = await drgnReads(path.join(dir, 'vmcore'), [
      { address: km.symbols.init_uts_ns, size: km.uts.length, physical: false },
      { address: km.directMapProbe.virt, size: 32, physical: false },
    ]);
    expect(out.linux_kernel).toBe(true);
    expect(out.reads[0]).toBe(km.uts.toString('hex'));
    expect(Buffer.from(out.reads[0], 'hex').toString('latin1', 130, 130 + km.osrelease.length)).toBe(km.osrelease);
    expect(out.reads[1]).toBe(kernelPhysical(km, km.directMapProbe.phys, 32).toString('hex'));
  });

  it('crash --osrelease prints the note OSRELEASE for memory.elf and vmcore', async () => {
    for (const f of ['memory.elf', 'vmcore']) {
      const r = await run('crash', ['--osrelease', path.join(dir, f)]);
      expect(r.stdout.trim(), f).toBe(km.osrelease);
    }
  });

  it("crash turns crash.args (ranges/*.bin read through the mount) into an ELF whose loads hold the machine's RAM", async () => {
    // crash builds its ramdump ELF while parsing arguments (-o keeps it), before it looks for a vmlinux.
    const out = path.join(tmp, 'crash-ramdump.elf');
    const args = fs.readFileSync(path.join(dir, 'crash.args'), 'latin1').trim();
    const r = await run('sh', ['-c', `cd "${dir}" && crash -o "${out}" ${args} </dev/null`]);
    expect(fs.existsSync(out), r.stdout + r.stderr).toBe(true);
    const elf = fs.readFileSync(out);
    const loads = readElf(elf).phdrs.filter((p) => p.type === 1);
    expect(loads.map((p) => [Number(p.paddr), p.filesz])).toEqual(km.ranges.map((x) => [x.start, rangeLength(x)]));
    for (const p of loads) expect(elf.subarray(p.offset, p.offset + p.filesz).equals(kernelPhysical(km, Number(p.paddr), p.filesz))).toBe(true);
  });

  it('export writes the same bytes as the mount', async () => {
    expect((await run('cmp', [exported.elf, path.join(dir, 'memory.elf')])).code).toBe(0);
    expect((await run('cmp', [exported.vmcore, path.join(dir, 'vmcore')])).code).toBe(0);
  });
});

describe('ELF tools and gdb on the exported cores', () => {
  it('readelf -h -l -n and eu-readelf -l -n: no warnings, the VMCOREINFO note with its text', async () => {
    for (const f of [exported.elf, exported.vmcore]) {
      const r = await run('readelf', ['-W', '-h', '-l', '-n', f]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).not.toMatch(/warning/i);
      expect(r.stdout).toMatch(/CORE\s+0x00000150\s+NT_PRSTATUS/);
      expect(r.stdout).toMatch(new RegExp(`VMCOREINFO\\s+0x${km.noteText.length.toString(16).padStart(8, '0')}\\s`));
      const e = await run('eu-readelf', ['-l', '-n', f]);
      expect(e.code).toBe(0);
      expect(e.stderr).toBe('');
      expect(e.stdout).toContain(`OSRELEASE=${km.osrelease}`);
      expect(e.stdout).toContain(`NUMBER(phys_base)=${km.physBase}`);
    }
    const v = await run('readelf', ['-W', '-l', exported.vmcore]);
    expect(v.stdout).toMatch(/LOAD\s+0x[0-9a-f]+ 0xffffffffae[0-9a-f]{6} 0xffffffffffffffff /);
  });

  it('gdb core-file vmcore: loads, maps every PT_LOAD and reads init_uts_ns', async () => {
    const uts = '0x' + km.symbols.init_uts_ns.toString(16);
    const r = await run('gdb', ['-batch', '-nx', '-ex', `core-file ${exported.vmcore}`, '-ex', 'info files', '-ex', `x/s ${uts}`, '-ex', `x/s ${uts}+130`]);
    expect(r.code).toBe(0);
    const loads = r.stdout.match(/^\s+0x[0-9a-f]+ - 0x[0-9a-f]+ is load\d+$/gm) ?? [];
    const phdrs = (await run('readelf', ['-W', '-l', exported.vmcore])).stdout.match(/^\s+LOAD\s/gm) ?? [];
    expect(loads.length).toBe(phdrs.length);
    expect(r.stdout).toContain(`${uts}:\t"Linux"`);
    expect(r.stdout).toContain(`"${km.osrelease}"`);
  });
});
