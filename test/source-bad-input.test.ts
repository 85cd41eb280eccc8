import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Chunk, materialise, ramBytes } from './helpers/machine';
import { memview } from './helpers/cli';
import { elfCoreImage, limeImage, saltedRam } from './helpers/source-writers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memview-badsrc-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const RANGES = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x17ffff },
];

function file(name: string, bytes: Chunk[] | Buffer): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, Buffer.isBuffer(bytes) ? bytes : materialise(bytes));
  return f;
}

const lime = materialise(limeImage(RANGES, saltedRam()));
const load = (paddr: bigint, length: number) => ({ paddr, data: ramBytes(Number(paddr), length) });

/**
 * Each bad source: the file, and what the one-line message must say. Sizes by
 * hand: an ELF header is 0x40 bytes, each program header 0x38, no notes here.
 */
const CASES: { name: string; make: () => string; message: RegExp }[] = [
  {
    name: 'empty file',
    make: () => file('empty.lime', Buffer.alloc(0)),
    message: /empty\.lime: file is empty/,
  },
  {
    name: 'truncated LiME',
    make: () => file('truncated.lime', lime.subarray(0, lime.length - 100)),
    message: /truncated\.lime: truncated LiME record at file offset 0x9ec20: 0x100000-0x17ffff needs 524288 bytes of data, the file ends 100 bytes early/,
  },
  {
    name: 'trailing garbage after LiME',
    make: () => file('trailing.lime', Buffer.concat([lime, Buffer.from('garbage!')])),
    message: /trailing\.lime: bad magic 0x62726167 at file offset 0x11ec40 \(expected LiME 0x4c694d45\); 8 trailing bytes after the last record/,
  },
  {
    name: 'LiME header cut short',
    make: () => file('shorthdr.lime', Buffer.concat([lime, lime.subarray(0, 20)])),
    message: /shorthdr\.lime: truncated LiME header at file offset 0x11ec40: 20 of 32 bytes/,
  },
  {
    name: 'LiME version 2',
    make: () => file('v2.lime', limeImage(RANGES, saltedRam(), 2)),
    message: /v2\.lime: LiME version 2 at file offset 0x4 is not supported \(expected 1\)/,
  },
  {
    name: 'ELF32',
    make: () => file('elf32.core', elfCoreImage([load(0x1000n, 0x1000)], [], { cls: 1 })),
    message: /elf32\.core: ELF class 1 \(ELF32\) at file offset 0x4: memview reads 64-bit ELF cores only/,
  },
  {
    name: 'ELF segment past EOF',
    make: () => file('pasteof.core', elfCoreImage([load(0x1000n, 0x1000), { ...load(0x2000n, 0x1000), offset: 0x100000 }])),
    message: /pasteof\.core: PT_LOAD #2 \(p_paddr 0x2000\) has data at file offset 0x100000-0x100fff, past the end of the file \(0x10e8 bytes\)/,
  },
  {
    name: 'phnum pointing past EOF',
    make: () => file('phnum.core', elfCoreImage([load(0x1000n, 0x1000)], [], { phnum: 500 })),
    message: /phnum\.core: program header table \(500 entries at file offset 0x40\) ends at 0x6da0, past the end of the file \(0x10b0 bytes\)/,
  },
  {
    name: 'all-zero p_paddr',
    make: () =>
      file(
        'zeropaddr.core',
        elfCoreImage([
          { ...load(0n, 0x1000), vaddr: 0xffff888000000000n },
          { ...load(0n, 0x1000), vaddr: 0xffff888000100000n },
        ]),
      ),
    message:
      /zeropaddr\.core: every PT_LOAD has p_paddr 0, so the physical address of the data is unknown \(\/proc\/kcore of kernels before 4\.11 writes no p_paddr\)/,
  },
  {
    name: 'ELF that is not a core',
    make: () => file('exec.elf', elfCoreImage([load(0x1000n, 0x1000)], [], { type: 2 })),
    message: /exec\.elf: ELF type 2 at file offset 0x10 is not a core file \(expected ET_CORE 4\)/,
  },
];

describe('bad sources: exit 2 and one line naming the file and the problem', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const f = c.make();
      const before = fs.readFileSync(f);
      const r = await memview('info', f);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^memview: [^\n]+\n$/);
      expect(r.stderr).toMatch(c.message);
      expect(fs.readFileSync(f).equals(before)).toBe(true); // opened read-only, never modified
    });
  }

  it('an unknown --format is refused', async () => {
    const r = await memview('info', file('ok.lime', lime), '--format', 'zip');
    expect(r.code).toBe(2);
    // One line naming every format (the list grows with new formats: check its members, not its order).
    const m = /^memview: --format: unknown format "zip"; one of: ([a-z0-9, -]+)\n$/.exec(r.stderr);
    expect(m).not.toBeNull();
    expect(m![1].split(', ')).toEqual(expect.arrayContaining(['raw', 'padded', 'lime', 'lime-zlib', 'avml', 'elf', 'kcore', 'kdump']));
  });
});
