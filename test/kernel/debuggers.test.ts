/**
 * The kernel debuggers on memview's vmcore of real dumps: drgn reads
 * init_uts_ns through the kernel's own page tables (a virtual read), crash
 * names the release, makedumpfile filters it and reads its printk log. The
 * vmcores: memview's of QEMU's ELF, of LiME's dump, and the one memview
 * served inside the guest from live /proc/kcore.
 */
import * as fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { memview, run } from '../helpers/cli';
import { drgnReads } from '../helpers/drgn';
import { layoutsFromEnv } from './layouts';
import { boots, readCore } from './truth';

const UTS_FIELD = 65;

for (const boot of boots(layoutsFromEnv())) {
  describe(`kernel debuggers on ${boot.layout.name} (${boot.layout.about})`, () => {
    const release = () => boot.text('uname-r.txt').trim();
    const vmcores: Record<string, string> = {
      "memview's vmcore of QEMU's ELF": boot.file('checks-qemu.vmcore'),
      "memview's vmcore of LiME's dump": boot.file('checks-lime.vmcore'),
      ...(boot.layout.noKcore ? {} : { "memview's vmcore served in the guest from live /proc/kcore": boot.file('kcore-vmcore') }),
    };
    beforeAll(async () => {
      for (const [source, out] of [
        ['qemu.elf', 'checks-qemu.vmcore'],
        ['lime.lime', 'checks-lime.vmcore'],
      ]) {
        const r = await memview('export', '--view', 'vmcore', '-o', boot.file(out), '--force', boot.file(source));
        if (r.code !== 0) throw new Error(`memview export vmcore of ${source}: ${r.stderr.trim()}`);
      }
    });

    for (const [what, vmcore] of Object.entries(vmcores)) {
      describe(what, () => {
        it("drgn reads init_uts_ns through the page tables: the guest's release", async () => {
          const info = readCore(vmcore).vmcoreinfo;
          const uts = BigInt('0x' + info.get('SYMBOL(init_uts_ns)'));
          const name = BigInt(info.get('OFFSET(uts_namespace.name)') ?? '4');
          const r = await drgnReads(vmcore, [{ address: uts + name + BigInt(2 * UTS_FIELD), size: UTS_FIELD, physical: false }]);
          expect(r.linux_kernel).toBe(true);
          expect(r.reads[0]).not.toMatch(/^fault/);
          expect(Buffer.from(r.reads[0], 'hex').toString('latin1').replace(/\0.*$/s, '')).toBe(release());
        });

        it("crash --osrelease names the guest's release", async () => {
          const r = await run('crash', ['--osrelease', vmcore]);
          expect(r.stdout.trim(), r.stderr).toBe(release());
        });

        it('makedumpfile accepts it: filters it (-d 31) and reads its printk log', async () => {
          const out = `${vmcore}.makedumpfile`;
          const log = `${vmcore}.dmesg`;
          fs.rmSync(out, { force: true });
          fs.rmSync(log, { force: true });
          const filtered = await run('makedumpfile', ['-c', '-d', '31', vmcore, out], { timeoutMs: 300_000 });
          expect(filtered.code, filtered.stdout + filtered.stderr).toBe(0);
          const c = await run('crash', ['--osrelease', out]);
          expect(c.stdout.trim(), c.stderr).toBe(release());
          const d = await run('makedumpfile', ['--dump-dmesg', vmcore, log]);
          expect(d.code, d.stdout + d.stderr).toBe(0);
          expect(fs.readFileSync(log, 'latin1')).toContain(`Linux version ${release()}`);
          fs.rmSync(out, { force: true });
          fs.rmSync(log, { force: true });
        });
      });
    }

    it("QEMU's kdump-zlib dump names the guest's release to crash", async () => {
      const r = await run('crash', ['--osrelease', boot.file('qemu.kdump')]);
      expect(r.stdout.trim(), r.stderr).toBe(release());
    });
  });
}
