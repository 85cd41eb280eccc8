import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run, tempDir } from './helpers/cli';
import { Chunk, ramBytes, writeChunks } from './helpers/machine';
import { Load, NO_PADDR, Note, qemuElfImage, elfCoreImage } from './helpers/source-writers';
import { expectSameBytes, open } from './support/views';

const tmp = tempDir('memview-elf-');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, chunks: Chunk[]): string {
  const f = path.join(tmp, name);
  writeChunks(f, chunks);
  return f;
}

const SALT = 0x3c3c;
const ram = (paddr: number, length: number, memsz?: number): Load => ({ paddr: BigInt(paddr), data: ramBytes(paddr, length, SALT), memsz });
const qemuNotes: Note[] = [
  { name: 'CORE', type: 1, desc: Buffer.alloc(336, 1) },
  { name: 'CORE', type: 1, desc: Buffer.alloc(336, 2) },
  { name: 'QEMU', type: 0, desc: Buffer.alloc(440, 3) },
  { name: 'QEMU', type: 0, desc: Buffer.alloc(440, 4) },
];

describe('ELF core sources', () => {
  // QEMU's RAM blocks: [0, 0xa0000), [0xc0000, 6 MiB), a block whose file part
  // stops short (p_filesz < p_memsz), VGA memory high up, and a segment with no
  // physical address.
  const loads: Load[] = [
    ram(0, 0xa0000),
    ram(0xc0000, 0x600000 - 0xc0000),
    ram(0x1000000, 0x8000, 0x10000),
    { paddr: NO_PADDR, vaddr: 0xffffc90000000000n, data: Buffer.alloc(0x1000, 0xaa) },
    ram(0x7d000000, 0x10000),
  ];
  const qemu = write('qemu.core', qemuElfImage(loads, qemuNotes));

  it('a third-party reader accepts the QEMU-layout fixture (e_ehsize 8, sections before phdrs, unaligned data)', async () => {
    const r = await run('readelf', ['-h', '-l', '-W', qemu]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Size of this header:\s+8 \(bytes\)/);
    expect(r.stdout).toMatch(/Start of program headers:\s+192 \(bytes into file\)/);
    expect(r.stdout.match(/^\s+LOAD\s/gm)).toHaveLength(5);
  });

  it('reads a QEMU dump-guest-memory core: p_paddr segments, zero tails, -1 skipped', async () => {
    const src = await open(qemu);
    try {
      expect(src.source.format).toBe('elf');
      expect(src.source.mapOrigin).toMatch(/QEMU dump-guest-memory/);
      const notes = src.source.notes.join('\n');
      expect(notes).toMatch(/ELF notes: 2x CORE NT_PRSTATUS, 2x QEMU CPU state/);
      expect(notes).toMatch(/skipped 1 PT_LOADs with p_paddr -1/);
      expect(notes).toMatch(/PT_LOAD #3 \(p_paddr 0x1000000\): p_filesz < p_memsz, 0x8000 bytes at 0x1008000 read as zeros/);
      expect(src.source.ranges).toEqual([
        { start: 0, length: 0xa0000 },
        { start: 0xc0000, length: 0x600000 - 0xc0000 },
        { start: 0x1000000, length: 0x10000 },
        { start: 0x7d000000, length: 0x10000 },
      ]);
      const expected = [
        ramBytes(0, 0xa0000, SALT),
        ramBytes(0xc0000, 0x600000 - 0xc0000, SALT),
        ramBytes(0x1000000, 0x8000, SALT),
        { zeros: 0x8000 },
        ramBytes(0x7d000000, 0x10000, SALT),
      ];
      expectSameBytes(await src.read('raw.bin'), expected, 'raw.bin');
      const view = src.views.find((v) => v.name === 'padded.raw')!;
      expect(view.file.size).toBe(0x7d010000);
      const high = Buffer.alloc(0x20000);
      await view.file.read(high, 0x7cff0000, high.length);
      expectSameBytes(high, [{ zeros: 0x10000 }, ramBytes(0x7d000000, 0x10000, SALT)], 'padded.raw around 0x7d000000');
    } finally {
      src.close();
    }
  });

  it('kdump-style: the kernel-text alias loses to the RAM segment it aliases, whatever the header order', async () => {
    const textPhys = 0x1000000;
    const file = write(
      'vmcore',
      elfCoreImage(
        [
          // kdump lists the kernel text first; its bytes here differ from RAM so a wrong winner shows.
          { paddr: BigInt(textPhys), vaddr: 0xffffffff81000000n, data: Buffer.alloc(0x4000, 0xee) },
          { ...ram(0x100000, 0x1f00000), vaddr: 0xffff888000100000n },
        ],
        [
          { name: 'CORE', type: 1, desc: Buffer.alloc(336) },
          { name: 'VMCOREINFO', type: 0, desc: Buffer.from('OSRELEASE=6.1.0-13-amd64\nPAGESIZE=4096\n') },
        ],
      ),
    );
    const src = await open(file);
    try {
      expect(src.source.ranges).toEqual([{ start: 0x100000, length: 0x1f00000 }]);
      expect(src.source.mapOrigin).toMatch(/VMCOREINFO/);
      expect(src.source.notes.join('\n')).toMatch(/VMCOREINFO note: kernel 6\.1\.0-13-amd64/);
      expect(src.source.notes.join('\n')).toMatch(
        /PT_LOAD #1 \(kernel image at vaddr 0xffffffff81000000\) aliases RAM served by other segments: 0x4000 bytes not used/,
      );
      const raw = await src.read('raw.bin');
      expectSameBytes(raw.subarray(textPhys - 0x100000, textPhys - 0x100000 + 0x4000), ramBytes(textPhys, 0x4000, SALT), 'RAM at the text address');
    } finally {
      src.close();
    }
  });

  it('overlapping RAM segments: the earlier program header wins, and info says so', async () => {
    const file = write('overlap.core', elfCoreImage([ram(0x100000, 0x3000), { paddr: 0x102000n, data: Buffer.alloc(0x2000, 0x55) }]));
    const src = await open(file);
    try {
      expect(src.source.ranges).toEqual([{ start: 0x100000, length: 0x4000 }]);
      expect(src.source.notes.join('\n')).toMatch(/PT_LOAD #2 overlaps earlier segments by 0x1000 bytes: the earlier program header wins/);
      expectSameBytes(await src.read('raw.bin'), [ramBytes(0x100000, 0x3000, SALT), Buffer.alloc(0x1000, 0x55)], 'raw.bin');
    } finally {
      src.close();
    }
  });

  it("--map replaces the core's own ranges (System RAM only, not ROM or VGA blocks)", async () => {
    const map = path.join(tmp, 'qemu.iomem');
    fs.writeFileSync(map, '00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n000c0000-000fffff : Reserved\n00100000-005fffff : System RAM\n');
    const src = await open(qemu, { map });
    try {
      expect(src.source.ranges).toEqual([
        { start: 0x1000, length: 0x9ec00 },
        { start: 0x100000, length: 0x500000 },
      ]);
      expect(src.source.mapOrigin).toBe(map);
      expectSameBytes(await src.read('raw.bin'), [ramBytes(0x1000, 0x9ec00, SALT), ramBytes(0x100000, 0x500000, SALT)], 'raw.bin');
    } finally {
      src.close();
    }
  });

  it('PN_XNUM: the program header count comes from section header 0 (readelf agrees)', async () => {
    const file = write('xnum.core', elfCoreImage([ram(0x1000, 0x2000), ram(0x100000, 0x3000)], [], { xnum: true }));
    const r = await run('readelf', ['-l', '-W', file]);
    expect(r.stdout.match(/^\s+LOAD\s/gm)).toHaveLength(2);
    const src = await open(file);
    try {
      expect(src.source.ranges).toEqual([
        { start: 0x1000, length: 0x2000 },
        { start: 0x100000, length: 0x3000 },
      ]);
      expectSameBytes(await src.read('raw.bin'), [ramBytes(0x1000, 0x2000, SALT), ramBytes(0x100000, 0x3000, SALT)], 'raw.bin');
    } finally {
      src.close();
    }
  });
});
