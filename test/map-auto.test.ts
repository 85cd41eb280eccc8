import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dmesgText, oldLogBuf, printkLogRecords, ringbufferBlocks } from './helpers/boot-log';
import { memview, run, RunningMount, startMount, tempDir } from './helpers/cli';
import { Patch, START_KERNEL_MAP } from './helpers/kernel';
import { EARLIER_FIRMWARE, logMachine, messages, SHIFTED_EDITS, SHIFTED_FIRMWARE } from './helpers/log-machine';

const tmp = tempDir('memview-mapauto-');
const mounts: RunningMount[] = [];
afterAll(async () => {
  for (const m of mounts) await m.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const log = (phys: number, data: Buffer): Patch => ({ phys, data });
const image = (logs: Patch[], opts: { note?: boolean } = {}) => logMachine(tmp, logs, opts);

const FORMS: { name: string; bytes: () => Buffer }[] = [
  { name: 'dmesg text copy', bytes: () => Buffer.from(dmesgText(messages('4.12'))) },
  { name: '<= 3.4 <6>[ts] text log', bytes: () => oldLogBuf(messages('pre-3.5')) },
  { name: '3.5-5.9 printk_log records', bytes: () => printkLogRecords(messages('3.5')) },
  { name: '>= 5.10 ring buffer text blocks', bytes: () => ringbufferBlocks(messages('4.12')) },
];

describe('--map auto end to end through a real FUSE mount', () => {
  for (const f of FORMS) {
    it(`${f.name}: picks the right map; padded.raw equals the reference`, async () => {
      const img = image([log(0x300000 + 0x1a8, f.bytes())]);
      const m = await startMount(img.raw, path.join(tmp, `mnt-${FORMS.indexOf(f)}`));
      mounts.push(m);
      for (let i = 0; i < 100 && !/map: /.test(m.output()); i++) await new Promise((r) => setTimeout(r, 50));
      expect(m.output()).toMatch(/map: auto: image offset 0x[0-9a-f]+ \(.*\), confidence high/);
      const cmp = await run('cmp', [path.join(m.dir, 'padded.raw'), img.reference]);
      expect(cmp.stdout + cmp.stderr).toBe('');
      expect(cmp.code).toBe(0);
      const info = JSON.parse(fs.readFileSync(path.join(m.dir, 'info.json'), 'utf8'));
      expect(info.map.ranges.map((r: { start: string; end: string }) => `${r.start}-${r.end}`)).toEqual([
        '0x1000-0x9fbff',
        '0x100000-0x1ffffff',
        '0x2400000-0x25fffff',
      ]);
      await m.stop();
    });
  }
});

describe('memview map: candidates ranked by evidence', () => {
  it('the page table decides between two maps of equal size; an earlier boot does not fit', async () => {
    const img = image([
      log(0x300000, ringbufferBlocks(messages('4.12'))),
      log(0x2410000, Buffer.from(dmesgText(messages('4.12', SHIFTED_FIRMWARE, SHIFTED_EDITS)))),
      log(0x2480000, Buffer.from(dmesgText(messages('4.12', EARLIER_FIRMWARE)))),
    ]);
    const r = await memview('map', img.raw, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.kernels).toHaveLength(1);
    const pgd = '0x' + (img.km.symbols.swapper_pg_dir - START_KERNEL_MAP + img.km.physBase).toString(16);
    expect(rep.kernels[0].pageTablePhys).toBe(pgd);
    expect(rep.candidates.map((c: { form: string; fit: string; content?: { ok: boolean } }) => [c.form, c.fit, c.content?.ok])).toEqual([
      ['printk_ringbuffer', 'exact', true],
      ['text', 'exact', false],
      ['text', 'none', undefined],
    ]);
    expect(rep.chosen).toBe(0);
    expect(rep.confidence).toBe('high');
    expect(rep.reason).toMatch(
      new RegExp(
        `RAM total equals the image size .* page ${pgd} is a 4-level page table: 66 kernel-half entries into RAM \\(64 of them to all-zero tables.*translates _stext to 0x[0-9a-f]+ as phys_base says; 1 other fitting map fails it`,
      ),
    );
    const text = await memview('map', img.raw);
    expect(text.stdout).toMatch(/^\* 1\. image offset 0x[0-9a-f]+ \(printk ring buffer\)$/m);
    expect(text.stdout).toMatch(new RegExp(`content contradicts: page ${pgd} is not the kernel's top-level page table`));
    expect(text.stdout).toMatch(/^chosen {4}1 \(image offset .*\), confidence high: /m);
  });

  it('files given with --iomem/--dmesg are candidates too', async () => {
    const img = image([]);
    const dmesg = path.join(tmp, 'given.dmesg');
    fs.writeFileSync(dmesg, dmesgText(messages('3.5')));
    const r = await memview('map', img.raw, '--dmesg', dmesg, '--json');
    const rep = JSON.parse(r.stdout);
    expect(rep.candidates).toHaveLength(1);
    expect(rep.candidates[0].kind).toBe('dmesg');
    expect(rep.candidates[0].content.ok).toBe(true);
    expect(rep.confidence).toBe('high');
  });
});

describe('--map auto refuses with the evidence', () => {
  it('no map anywhere: exit 2, says what it tried and suggests --map', async () => {
    const img = image([]);
    const r = await memview('info', img.raw);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /a raw image needs a memory map and none was found in it: no memory map found \(looked for the boot log's e820 map .* and the VMCOREINFO note in the image\); pass --map/,
    );
  });

  it("only an earlier boot's log (wrong size): exit 2 with the candidate table", async () => {
    const img = image([log(0x300000, ringbufferBlocks(messages('4.12', EARLIER_FIRMWARE)))]);
    const dir = path.join(tmp, 'never');
    fs.mkdirSync(dir);
    const r = await memview('mount', img.raw, dir);
    expect(r.code).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/none of 1 candidate map fits the image size \(\d+ bytes\) as a raw or padded image/);
    expect(r.stderr).toMatch(/^ {2}1\. image offset 0x[0-9a-f]+ \(printk ring buffer\)$/m);
    expect(r.stderr).toMatch(/no fit: 3 ranges, RAM total \d+ bytes, image \d+ bytes \(difference 1048576\)/);
  });

  it('contradictory maps and no VMCOREINFO note to decide: exit 2', async () => {
    const img = image(
      [log(0x300000, ringbufferBlocks(messages('4.12'))), log(0x2410000, ringbufferBlocks(messages('4.12', SHIFTED_FIRMWARE, SHIFTED_EDITS)))],
      { note: false },
    );
    const r = await memview('export', img.raw, '--view', 'padded', '-o', path.join(tmp, 'never.raw'));
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(/2 maps with different layouts fit the image size and nothing in the image tells them apart; pass --map/);
    expect(fs.existsSync(path.join(tmp, 'never.raw'))).toBe(false);
  });

  it('without a note but with one consistent map: chosen with medium confidence', async () => {
    const img = image([log(0x300000, printkLogRecords(messages('3.5'))), log(0x2410000, Buffer.from(dmesgText(messages('3.5'))))], { note: false });
    const r = await memview('info', img.raw, '--map', 'auto', '--json');
    expect(r.stderr).toBe('');
    const info = JSON.parse(r.stdout);
    expect(info.map.origin).toMatch(/^auto: image offset 0x[0-9a-f]+ \(printk records\), confidence medium$/);
    expect(info.notes.join(' ')).toMatch(/every fitting map agrees \(seen 2 times\); no VMCOREINFO note/);
  });
});
