/**
 * AVML v2 sources: files from an independent AVML writer (test/helpers/
 * avml-writer.ts) mounted and exported by the real CLI; every view must equal
 * the reference writers' output for the uncompressed machine.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Compressor } from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32c } from '../src/formats/crc32c';
import { readAvmlIndex } from '../src/sources/avml';
import { FileSource } from '../src/io/file-source';
import { BLOCK, crc32cRef, writeAvml, WrittenAvml } from './helpers/avml-writer';
import { memview as memviewCli, run, RunningMount, RunResult, startMount, tempDir } from './helpers/cli';
import { readElf } from './helpers/elf-reader';
import { kernelMachine, kernelPhysical, writeKernelMachine } from './helpers/kernel';
import { Chunk, expectedLime, expectedPadded, expectedRaw, iomemText, materialise, memoryBytes, Range, writeChunks } from './helpers/machine';

const SALT = 0x5eed;

/** iomem of the machine: a range over 16 MiB (3 blocks, the second all zero), and an all-zero range. */
const IOMEM: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x21fffff },
  { start: 0x3400000, end: 0x37fffff },
  { start: 0x3c00000, end: 0x3ffffff },
];
/** Zeros in the machine: block 1 of range 2, all of range 4, every third page of block 0 (compressible), and the byte AVML drops at each range end. */
const ZEROS: Range[] = [
  { start: 0x100000 + BLOCK, end: 0x100000 + 2 * BLOCK - 1 },
  { start: 0x3c00000, end: 0x3ffffff },
  ...IOMEM.map((r) => ({ start: r.end, end: r.end })),
];
for (let p = 0x100000; p < 0x100000 + BLOCK; p += 3 * 4096) ZEROS.push({ start: p, end: p + 4095 });
const blocks = new Map<string, Buffer>();
/** The machine's memory (memoised: every AVML variant reads the same blocks). */
const memory = (start: number, length: number): Buffer => {
  const key = `${start}+${length}`;
  if (!blocks.has(key)) blocks.set(key, memoryBytes(start, length, SALT, ZEROS));
  return blocks.get(key)!;
};
/** Without a map, an all-zero range leaves no trace in a current AVML file. */
const SEEN = IOMEM.slice(0, 3);

/** Reads [offset, length] pairs of a file in a child process; returns the bytes concatenated. */
async function readAt(file: string, reads: [number, number][]): Promise<Buffer> {
  const script = `const fs=require('fs');const fd=fs.openSync(process.argv[1],'r');const out=[];
for(const [o,n] of JSON.parse(process.argv[2])){const b=Buffer.alloc(n);let d=0;while(d<n){const k=fs.readSync(fd,b,d,n-d,o+d);if(!k)break;d+=k}out.push(b.subarray(0,d))}
process.stdout.write(Buffer.concat(out));`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script, file, JSON.stringify(reads)], { encoding: 'buffer', maxBuffer: 256 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`reading ${file}: ${stderr.toString()}`)) : resolve(stdout),
    );
  });
}

/** The CLI without the mount-time VMCOREINFO scan (it reads, so decompresses, all RAM of these kernel-less machines). */
const memview = (...args: string[]) => memviewCli(...args, '--vmcoreinfo', 'off');

async function cmp(a: string, b: string, args: string[] = []): Promise<string> {
  const r = await run('cmp', [...args, a, b]);
  return r.code === 0 ? 'same' : r.stdout + r.stderr;
}

/** File offset of physical address `phys` in the LiME view of `ranges`. */
function limeOffset(ranges: Range[], phys: number): number {
  let off = 0;
  for (const r of ranges) {
    off += 32;
    if (phys <= r.end) return off + phys - r.start;
    off += r.end - r.start + 1;
  }
  throw new Error('not in RAM');
}

const tmp = tempDir('memview-avml-');
const mounts: RunningMount[] = [];
const ref = (name: string, chunks: () => Chunk[]) => {
  const file = path.join(tmp, name);
  if (!fs.existsSync(file)) writeChunks(file, chunks());
  return file;
};

afterAll(async () => {
  for (const m of mounts) await m.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('CRC-32C', () => {
  it('matches the published check value and a byte-at-a-time implementation', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    for (const n of [0, 1, 7, 8, 9, 4095, 65536]) {
      const data = memoryBytes(0x1234567, n, n);
      expect(crc32c(data)).toBe(crc32cRef(data));
    }
  });
});

describe('AVML v2 with several ranges, left-out zero blocks, 0x01 chunks, skippable chunks', () => {
  const file = path.join(tmp, 'machine.avml');
  let written: WrittenAvml;
  let m: RunningMount;
  let padded: Buffer;

  beforeAll(async () => {
    written = await writeAvml(file, IOMEM, memory, { uncompressedEvery: 5, skippableEvery: 7, streamIdEvery: 11 });
    padded = materialise(expectedPadded(SEEN, SALT, ZEROS));
    fs.writeFileSync(path.join(tmp, 'ref.padded'), padded);
    ref('ref.lime', () => expectedLime(SEEN, SALT, ZEROS));
    ref('ref.raw', () => expectedRaw(SEEN, SALT, ZEROS));
    m = await startMount(file, path.join(tmp, 'mnt'));
    mounts.push(m);
  });

  it('the writer produced what the test needs', () => {
    const types = new Set(written.chunks.map((c) => c.type));
    expect(types).toEqual(new Set([0, 1]));
    expect(written.blocks.map((b) => b.start)).toEqual([0x1000, 0x100000, 0x100000 + 2 * BLOCK, 0x3400000]);
  });

  it('the index lists every data chunk (address, file offset, type) from headers alone', async () => {
    const image = FileSource.open(file);
    try {
      const index = await readAvmlIndex(image);
      const c = index.chunks;
      const bytes = fs.readFileSync(file);
      const got = Array.from({ length: c.count }, (_, i) => ({
        phys: c.starts[i],
        fileOffset: c.fileOffset[i],
        length: c.lengths[i],
        type: bytes[c.fileOffset[i]],
      }));
      expect(got).toEqual(written.chunks);
      expect(c.dataChunks).toBe(written.chunks.length);
      expect(index.records.map((r) => r.fileOffset)).toEqual(written.blocks.map((b) => b.fileOffset));
    } finally {
      image.close();
    }
  });

  it('padded.raw, memory.lime and raw.bin equal the references', async () => {
    expect(await cmp(path.join(m.dir, 'padded.raw'), path.join(tmp, 'ref.padded'))).toBe('same');
    expect(await cmp(path.join(m.dir, 'memory.lime'), path.join(tmp, 'ref.lime'))).toBe('same');
    expect(await cmp(path.join(m.dir, 'raw.bin'), path.join(tmp, 'ref.raw'))).toBe('same');
  });

  it('memory.elf has one page-rounded PT_LOAD per range holding its bytes', async () => {
    const elfFile = path.join(m.dir, 'memory.elf');
    const elf = readElf(await readAt(elfFile, [[0, 4096]]));
    const loads = elf.phdrs.filter((p) => p.type === 1);
    const page = (n: number) => Math.floor(n / 4096) * 4096;
    expect(loads.map((p) => [Number(p.paddr), p.filesz])).toEqual(SEEN.map((r) => [page(r.start), page(r.end + 4096) - page(r.start)]));
    for (const p of loads) {
      expect(await cmp(elfFile, path.join(tmp, 'ref.padded'), ['-n', String(p.filesz), '-i', `${p.offset}:${Number(p.paddr)}`])).toBe('same');
    }
  });

  it('info reports the merged ranges and the AVML quirks', async () => {
    const r = await memview('info', file);
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/format\s+avml/);
    expect(out).toContain('3 RAM ranges');
    expect(out).toContain('1 all-zero 16 MiB blocks');
    expect(out).toContain('3 ranges extended by that byte');
    expect(out).toMatch(/skippable Snappy chunks/);
    expect(fs.readFileSync(path.join(m.dir, 'iomem.txt'), 'utf8')).toContain('00100000-021fffff : System RAM');
  });

  it('random reads at chunk and block boundaries return the reference bytes', async () => {
    const reads: [number, number][] = [];
    const near = (at: number) => {
      for (const [d, n] of [
        [-3, 6],
        [-2048, 4096],
        [-1, 1],
        [0, 1],
        [-70000, 140000],
      ]) {
        if (at + d >= 0 && at + d + n <= padded.length) reads.push([at + d, n]);
      }
    };
    written.chunks.forEach((c, i) => i % 9 === 0 && near(c.phys));
    for (const b of written.blocks) {
      near(b.start);
      near(b.end);
    }
    near(0x100000 + BLOCK); // into the left-out zero block
    near(0x100000 + 2 * BLOCK); // out of it
    const got = await readAt(path.join(m.dir, 'padded.raw'), reads);
    const want = Buffer.concat(reads.map(([o, n]) => padded.subarray(o, o + n)));
    expect(got.length).toBe(want.length);
    expect(got.equals(want)).toBe(true);

    const limeReads = written.chunks.filter((_, i) => i % 13 === 0).map((c) => [Math.max(0, limeOffset(SEEN, c.phys) - 100), 200] as [number, number]);
    const lime = await readAt(path.join(m.dir, 'memory.lime'), limeReads);
    const limeRef = fs.readFileSync(path.join(tmp, 'ref.lime'));
    expect(lime.equals(Buffer.concat(limeReads.map(([o, n]) => limeRef.subarray(o, o + n))))).toBe(true);
  });

  it('concurrent readers through a 1 MiB cache (read-ahead, evictions) all get the reference bytes', async () => {
    const small = await startMount(file, path.join(tmp, 'mnt-small-cache'), ['--cache-mb', '1', '--vmcoreinfo', 'off']);
    mounts.push(small);
    const view = (name: string) => path.join(small.dir, name);
    const reads: [number, number][] = written.chunks.filter((_, i) => i % 5 === 0).map((c) => [Math.max(0, c.phys - 5000), 10000]);
    const [a, b, c] = await Promise.all([
      cmp(view('padded.raw'), path.join(tmp, 'ref.padded')),
      cmp(view('raw.bin'), path.join(tmp, 'ref.raw')),
      readAt(view('padded.raw'), reads),
    ]);
    expect([a, b]).toEqual(['same', 'same']);
    expect(c.equals(Buffer.concat(reads.map(([o, n]) => padded.subarray(o, o + n))))).toBe(true);
  });

  it('--map restores ranges AVML cannot see (an all-zero range)', async () => {
    const map = path.join(tmp, 'machine.iomem');
    fs.writeFileSync(map, iomemText(IOMEM));
    const out = path.join(tmp, 'out-map.lime');
    const r = await memview('export', file, '--map', map, '--view', 'memory.lime', '-o', out);
    expect(r.stderr).toBe('');
    expect(
      await cmp(
        out,
        ref('ref-all.memory.lime', () => expectedLime(IOMEM, SALT, ZEROS)),
      ),
    ).toBe('same');
  });

  it('without a cache (--cache-mb 0) and with --verify the bytes are the same', async () => {
    const out = path.join(tmp, 'out-nocache.padded');
    const r = await memview('export', file, '--cache-mb', '0', '--verify', '--view', 'padded.raw', '-o', out);
    expect(r.code).toBe(0);
    expect(await cmp(out, path.join(tmp, 'ref.padded'))).toBe('same');
  });
});

describe('AVML 0.17.0 orphan headers', () => {
  it.each([
    { layout: 'AVML chunks', version: 2 as const, name: 'orphans.avml' },
    { layout: 'LiME records written by AVML (v1)', version: 1 as const, name: 'v1-orphans.lime' },
  ])('are tolerated, reported, and restore the ranges of all-zero blocks: $layout', async ({ version, name }) => {
    const file = path.join(tmp, name);
    const w = await writeAvml(file, IOMEM, memory, { version, orphanHeaders: true });
    expect(w.orphans.map((o) => o.start)).toEqual([0x100000 + BLOCK, 0x3c00000]);
    const info = await memview('info', file);
    expect(info.code).toBe(0);
    expect(info.stdout).toContain(
      `orphan headers (all-zero blocks, no payload): 2, at file offsets 0x${w.orphans[0].fileOffset.toString(16)}, 0x${w.orphans[1].fileOffset.toString(16)}`,
    );
    const out = `${file}.memory.lime`;
    expect((await memview('export', file, '--view', 'memory.lime', '-o', out)).code).toBe(0);
    expect(
      await cmp(
        out,
        ref('ref-all.memory.lime', () => expectedLime(IOMEM, SALT, ZEROS)),
      ),
    ).toBe('same');
  });
});

describe('AVML v1 (LiME records written by AVML)', () => {
  it('merges blocks across left-out zero blocks and restores the dropped last bytes', async () => {
    const file = path.join(tmp, 'v1.lime');
    await writeAvml(file, IOMEM, memory, { version: 1 });
    const info = await memview('info', file);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/format\s+lime/);
    expect(info.stdout).toContain('1 all-zero 16 MiB blocks inside RAM ranges were left out by AVML');
    const lime = path.join(tmp, 'v1.memory.lime');
    expect((await memview('export', file, '--view', 'memory.lime', '-o', lime)).code).toBe(0);
    expect(await cmp(lime, path.join(tmp, 'ref.lime'))).toBe('same');
  });
});

describe('every view of an AVML source of a kernel machine', () => {
  it('equals the same view of the raw source, vmcore included', async () => {
    const km = kernelMachine();
    const raw = writeKernelMachine(path.join(tmp, 'kernel'), km);
    const file = path.join(tmp, 'kernel.avml');
    await writeAvml(file, km.ranges, (start, length) => kernelPhysical(km, start, length));
    const info = JSON.parse((await memviewCli('info', file, '--json')).stdout) as { views: { name: string }[] };
    const names = info.views.map((v) => v.name).filter((n) => !/\.(txt|json|args|memmap)$/.test(n)); // text naming the source differs
    expect(names).toEqual(expect.arrayContaining(['padded.raw', 'memory.lime', 'memory.elf', 'vmcore', 'raw.bin', 'leechcore.lime']));
    const a = await startMount(file, path.join(tmp, 'mnt-kernel-avml'));
    mounts.push(a);
    const b = await startMount(raw.raw, path.join(tmp, 'mnt-kernel-raw'), ['--map', raw.iomem]);
    mounts.push(b);
    for (const view of names.filter((n) => n !== 'padded.raw')) {
      // padded.raw: 4 GiB of hole, checked above
      expect(await cmp(path.join(a.dir, view), path.join(b.dir, view)), view).toBe('same');
    }
  });
});

describe('AVML framed by a third-party Snappy framer', () => {
  it("reads and CRC-verifies streams from the snappy package's own frame encoder", async () => {
    const file = path.join(tmp, 'thirdparty.avml');
    const frame = async (data: Buffer) => {
      const c = new Compressor();
      const head = c.update(data);
      return Buffer.concat([head, await c.finish()]);
    };
    await writeAvml(file, IOMEM, memory, { frame });
    const out = path.join(tmp, 'thirdparty.padded');
    const r = await memview('export', file, '--verify', '--view', 'padded.raw', '-o', out);
    expect(r.stderr).toBe('');
    expect(await cmp(out, path.join(tmp, 'ref.padded'))).toBe('same');
  });
});

describe('bad AVML input', () => {
  const good = path.join(tmp, 'small.avml');
  const small: Range[] = [{ start: 0x100000, end: 0x17ffff }];
  let w: WrittenAvml;

  beforeAll(async () => {
    w = await writeAvml(good, small, memory, { uncompressedEvery: 4 });
  });

  /** A copy of the good file with `edit` applied; returns its path. */
  const variant = (name: string, edit: (b: Buffer) => Buffer) => {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, edit(Buffer.from(fs.readFileSync(good))));
    return file;
  };
  const h = (n: number) => '0x' + n.toString(16);
  const expectOneLine = (r: RunResult, file: string, pattern: string) => {
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`memview: ${file}: ${pattern}\n`);
  };

  it('a truncated record', async () => {
    const c = w.chunks[3];
    const file = variant('truncated.avml', (b) => b.subarray(0, c.fileOffset + 100));
    const bodyLength = fs.readFileSync(good).readUIntLE(c.fileOffset + 1, 3);
    expectOneLine(
      await memview('info', file),
      file,
      `truncated AVML record at file offset 0x0: Snappy chunk at file offset ${h(c.fileOffset)} needs ${bodyLength} bytes, the file ends after 96`,
    );
  });

  it('a trailer that disagrees with the framed length', async () => {
    const size = fs.statSync(good).size;
    const framed = size - 8 - 32;
    const file = variant('trailer.avml', (b) => {
      b.writeBigUInt64LE(BigInt(framed + 1), size - 8);
      return b;
    });
    expectOneLine(
      await memview('info', file),
      file,
      `AVML record at file offset 0x0: trailer at file offset ${h(size - 8)} says the Snappy stream is ${framed + 1} bytes, it is ${framed}`,
    );
  });

  it('an unknown unskippable chunk type', async () => {
    const at = w.chunks[2].fileOffset;
    const file = variant('chunktype.avml', (b) => {
      b[at] = 0x05;
      return b;
    });
    expectOneLine(await memview('info', file), file, `unknown unskippable Snappy chunk type 0x5 at file offset ${h(at)}`);
  });

  it('a CRC mismatch: exit 2 from export --verify, EIO from the mount with the chunk named in its log', async () => {
    const c = w.chunks[5];
    const crc = fs.readFileSync(good).readUInt32LE(c.fileOffset + 4);
    const file = variant('crc.avml', (b) => {
      b.writeUInt32LE((crc ^ 1) >>> 0, c.fileOffset + 4);
      return b;
    });
    const message = `CRC mismatch in the Snappy chunk at file offset ${h(c.fileOffset)}: stored ${h((crc ^ 1) >>> 0)}, computed ${h(crc)}`;
    const out = path.join(tmp, 'crc.padded');
    expectOneLine(
      await memview('export', file, '--verify', '--view', 'padded.raw', '-o', out),
      file,
      `${message}; export stopped, nothing was written to ${out}`,
    );
    expect(fs.existsSync(out)).toBe(false);
    expect((await memview('export', file, '--view', 'padded.raw', '-o', out, '--force')).code).toBe(0); // CRCs are only checked when asked

    const m = await startMount(file, path.join(tmp, 'mnt-crc'), ['--verify']);
    mounts.push(m);
    const before = await readAt(path.join(m.dir, 'padded.raw'), [[w.chunks[1].phys, 4096]]);
    expect(before.equals(memory(w.chunks[1].phys, 4096))).toBe(true);
    const bad = await run('dd', [`if=${path.join(m.dir, 'padded.raw')}`, 'of=/dev/null', 'bs=4096', `skip=${c.phys / 4096}`, 'count=1']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/Input\/output error/);
    expect(m.output()).toContain(`memview: read error in padded.raw: ${file}: ${message}\n`);
  });

  it('corrupt Snappy data in a chunk: exit 2 naming the chunk', async () => {
    const c = w.chunks.find((k) => k.type === 0)!;
    const file = variant('corrupt.avml', (b) => {
      b.fill(0xff, c.fileOffset + 8 + 3, c.fileOffset + 8 + 3 + 16); // after the 3-byte varint: copies from before the start
      return b;
    });
    const r = await memview('export', file, '--view', 'padded.raw', '-o', path.join(tmp, 'corrupt.padded'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^memview: ${file}: corrupt Snappy data in the chunk at file offset ${h(c.fileOffset)}: [^\n]*\n$`));
  });
});
