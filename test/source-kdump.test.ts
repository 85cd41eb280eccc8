/**
 * kdump-compressed dumps read page by page: makedumpfile's own output (zlib,
 * lzo, dump level 31, flattened) of memview's vmcore view of a kernel
 * machine, and the independent writer's dumps (snappy, zstd, stored pages,
 * shared zero pages, excluded pages, an incomplete dump, flattened records out
 * of order and overwritten). Expected bytes: the machine's own RAM; which
 * pages a dump left out: libkdumpfile's answer (through drgn); crash opens
 * every dump.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSource, ByteSource } from '../src/io/byte-source';
import { FlattenedSource } from '../src/sources/flattened';
import { CHUNK_PAGES, decodeKdumpChunk, KdumpIndex, kdumpNotes, readKdumpIndex } from '../src/sources/kdump';
import { memview, run, startMount, tempDir } from './helpers/cli';
import { drgnReads, SYSTEM_PYTHON } from './helpers/drgn';
import { makedumpfileFixtures, MakedumpfileFixtures } from './helpers/kdump-machine';
import { flatten, KdumpSpec, writeKdump } from './helpers/kdump-writer';
import { kernelPhysical } from './helpers/kernel';
import { ramBytes } from './helpers/machine';

const PAGE = 4096;
const tmp = tempDir('memview-kdump-');
let fx: MakedumpfileFixtures;

/** The machine's RAM, one buffer per range (kernelPhysical is slow per page with large patches). */
const machineRam: { start: number; bytes: Buffer }[] = [];
function machinePage(pfn: number): Buffer {
  const r = machineRam.find((m) => pfn * PAGE >= m.start && pfn * PAGE < m.start + m.bytes.length)!;
  return r.bytes.subarray(pfn * PAGE - r.start, pfn * PAGE - r.start + PAGE);
}

beforeAll(async () => {
  fx = await makedumpfileFixtures(tmp);
  for (const r of fx.machine.km.ranges) {
    const start = Math.floor(r.start / PAGE) * PAGE;
    const end = Math.ceil((r.end + 1) / PAGE) * PAGE;
    machineRam.push({ start, bytes: kernelPhysical(fx.machine.km, start, end - start, fx.machine.extra) });
  }
}, 120_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function open(file: Buffer, label = 'dump'): Promise<{ source: ByteSource; index: KdumpIndex; flat?: FlattenedSource }> {
  let source: ByteSource = new BufferSource(file, label);
  let flat: FlattenedSource | undefined;
  if (file.subarray(0, 12).toString('latin1') === 'makedumpfile') source = flat = await FlattenedSource.open(source);
  return { source, index: await readKdumpIndex(source), flat };
}

/** Every present page as the dump serves it: pfn -> bytes. */
async function servedPages(source: ByteSource, index: KdumpIndex): Promise<Map<number, Buffer>> {
  const pages = new Map<number, Buffer>();
  const chunks = new Set(
    index.ranges.flatMap((r) => {
      const out: number[] = [];
      for (let pfn = r.start / PAGE; pfn < (r.start + r.length) / PAGE; pfn += 1) out.push(Math.floor(pfn / CHUNK_PAGES));
      return out;
    }),
  );
  for (const c of chunks) {
    const bytes = await decodeKdumpChunk(source, index, c);
    for (let k = 0; k < CHUNK_PAGES; k++) {
      const pfn = c * CHUNK_PAGES + k;
      if ((index.present[pfn >> 3] >> (pfn & 7)) & 1) pages.set(pfn, bytes.subarray(k * PAGE, (k + 1) * PAGE));
    }
  }
  return pages;
}

/** libkdumpfile (drgn) on each page: its bytes, or null when it says the page was excluded. */
async function drgnPages(file: string, pfns: number[]): Promise<Map<number, string | null>> {
  const script = `
import sys, json, drgn
p = drgn.Program(); p.set_core_dump(sys.argv[1])
out = {}
for pfn in json.loads(sys.argv[2]):
    try: out[pfn] = p.read(pfn * 4096, 4096, True).hex()
    except drgn.FaultError as e: out[pfn] = None if 'Excluded page' in str(e) else 'fault: ' + str(e)
print(json.dumps(out))`;
  const r = await run(SYSTEM_PYTHON, ['-c', script, file, JSON.stringify(pfns)]);
  if (r.code !== 0) throw new Error(r.stderr);
  return new Map(Object.entries(JSON.parse(r.stdout) as Record<string, string | null>).map(([k, v]) => [Number(k), v]));
}

describe("makedumpfile output of memview's vmcore", () => {
  for (const name of ['zlib-d0', 'lzo-d31', 'zlib-d31', 'flat-zlib-d31', 'flat-lzo-d31']) {
    it(`${name}: every RAM page equals the machine, pages libkdumpfile calls excluded read as zeros, crash --osrelease reads it`, async () => {
      const file = fx.dumps[name];
      const { source, index, flat } = await open(fs.readFileSync(file), file);
      const { km } = fx.machine;
      expect(index.ranges.map((r) => [r.start, r.length])).toEqual(
        km.ranges.map((r) => [Math.floor(r.start / PAGE) * PAGE, Math.ceil((r.end + 1) / PAGE) * PAGE - Math.floor(r.start / PAGE) * PAGE]),
      );
      const pages = await servedPages(source, index);
      // drgn reads the flattened form only after makedumpfile -R; ask it about the plain dump of the same run.
      const plain = name.startsWith('flat-') ? fx.dumps[name.replace('flat-', '')] : file;
      const drgn = await drgnPages(plain, [...pages.keys()]);
      let excluded = 0;
      for (const [pfn, bytes] of pages) {
        const ref = drgn.get(pfn);
        if (ref === null) {
          excluded++;
          expect(bytes.equals(Buffer.alloc(PAGE)), `excluded pfn ${pfn.toString(16)}`).toBe(true);
        } else {
          expect(bytes.equals(machinePage(pfn)), `pfn ${pfn.toString(16)}`).toBe(true);
        }
      }
      expect(index.excludedPages).toBe(excluded);
      expect(index.vmcoreinfo).toBe(km.noteText);
      expect(kdumpNotes(index, flat).join('\n')).toContain(name.includes('lzo') ? 'lzo pages' : 'zlib pages');
      const c = await run('crash', ['--osrelease', file]);
      expect(c.stdout.split('\n')[0]).toBe(km.osrelease);
      if (flat) {
        // makedumpfile -R rebuilds the diskdump file: the flattened view serves exactly its bytes.
        const rebuilt = path.join(tmp, `${name}.rebuilt`);
        const r = await run('sh', ['-c', 'makedumpfile -R "$1" < "$2"', 'sh', rebuilt, file]);
        expect(r.code, r.stderr).toBe(0);
        const want = fs.readFileSync(rebuilt);
        const got = Buffer.alloc(want.length);
        expect(await source.read(got, 0, got.length, 0)).toBe(want.length);
        expect(source.size).toBe(want.length);
        expect(got.equals(want)).toBe(true);
      }
    }, 60_000);
  }
});

/** A small machine for the writer: pfns 1..0x9f and 0x100..0x2ff, RAM bytes that name their address. */
function writerSpec(over: Partial<KdumpSpec> = {}): KdumpSpec {
  const codecs = ['zlib', 'snappy', 'zstd', 'stored'] as const;
  return {
    maxMapnr: 0x300,
    present: (pfn) => (pfn >= 1 && pfn < 0xa0) || pfn >= 0x100,
    excluded: (pfn) => pfn % 37 === 0,
    page: (pfn) => (pfn % 11 === 0 ? Buffer.alloc(PAGE) : ramBytes(pfn * PAGE, PAGE, 0x55)),
    codec: (pfn) => codecs[pfn % 4],
    shareZeroPages: true,
    vmcoreinfo: 'OSRELEASE=6.1.0-writer\nPAGESIZE=4096\n',
    dumpLevel: 1,
    ...over,
  };
}

function expectedPage(spec: KdumpSpec, pfn: number): Buffer {
  return spec.excluded?.(pfn) ? Buffer.alloc(PAGE) : spec.page(pfn);
}

describe('independent writer: codecs makedumpfile here cannot write', () => {
  it('zlib, snappy, zstd and stored pages, shared zero pages, excluded pages: every page as written', async () => {
    const spec = writerSpec();
    const file = writeKdump(spec);
    const { source, index } = await open(file);
    expect(index.ranges).toEqual([
      { start: PAGE, length: 0x9f * PAGE },
      { start: 0x100 * PAGE, length: 0x200 * PAGE },
    ]);
    const pages = await servedPages(source, index);
    for (const [pfn, bytes] of pages) expect(bytes.equals(expectedPage(spec, pfn)), `pfn ${pfn.toString(16)}`).toBe(true);
    let excluded = 0;
    for (let pfn = 0; pfn < spec.maxMapnr; pfn++) if (spec.present(pfn) && spec.excluded!(pfn)) excluded++;
    expect(index.excludedPages).toBe(excluded);
    expect(kdumpNotes(index).join('\n')).toMatch(/zlib\+snappy\+zstd pages/);
    const f = path.join(tmp, 'writer.kdump');
    fs.writeFileSync(f, file);
    expect((await run('crash', ['--osrelease', f])).stdout.split('\n')[0]).toBe('6.1.0-writer');
  });

  it('flattened: records out of order and overwritten by later ones serve the same pages as the plain dump', async () => {
    const spec = writerSpec();
    const plain = writeKdump(spec);
    const garbage = Buffer.alloc(8192, 0xee);
    const flat = flatten(Buffer.concat([plain.subarray(0, 8192), garbage, plain.subarray(16384)]), {
      recordBytes: 5000,
      order: (n) => [...Array(n).keys()].reverse(),
      overwrites: [{ offset: 8192, bytes: plain.subarray(8192, 16384) }],
    });
    const a = await open(plain);
    const b = await open(flat);
    expect(b.flat!.overwritten).toBe(8192);
    expect(b.source.size).toBe(plain.length);
    const pa = await servedPages(a.source, a.index);
    const pb = await servedPages(b.source, b.index);
    expect([...pb.keys()]).toEqual([...pa.keys()]);
    for (const [pfn, bytes] of pa) expect(pb.get(pfn)!.equals(bytes)).toBe(true);
    const f = path.join(tmp, 'writer.flat');
    fs.writeFileSync(f, flat);
    expect((await run('crash', ['--osrelease', f])).stdout.split('\n')[0]).toBe('6.1.0-writer');
  });

  it('incomplete dump (status 0x8): pages after the stop read as zeros and are counted', async () => {
    const spec = writerSpec({ excluded: () => false, stopAfter: 100 });
    const file = writeKdump(spec);
    const { source, index } = await open(file);
    const dumpedTotal = index.dumpedPages;
    expect(index.incomplete).toBe(true);
    expect(index.missingPages).toBe(dumpedTotal - 100);
    expect(kdumpNotes(index).join('\n')).toMatch(/INCOMPLETE.*read as zeros/);
    const pages = await servedPages(source, index);
    const order = [...pages.keys()].sort((x, y) => x - y);
    order.forEach((pfn, i) => expect(pages.get(pfn)!.equals(i < 100 ? spec.page(pfn) : Buffer.alloc(PAGE)), `pfn ${pfn}`).toBe(true));
  });
});

describe('a kdump-compressed dump as a memview source', () => {
  it("export raw.bin: the machine's RAM with the excluded pages as zeros; info names the dump and its holes", async () => {
    const file = fx.dumps['lzo-d31'];
    const { index } = await open(fs.readFileSync(file), file);
    const drgn = await drgnPages(
      file,
      [...Array(index.maxMapnr).keys()].filter((pfn) => (index.present[pfn >> 3] >> (pfn & 7)) & 1),
    );
    const expected = Buffer.concat(
      machineRam.map((m) => {
        const b = Buffer.from(m.bytes);
        for (let at = 0; at < b.length; at += PAGE) if (drgn.get((m.start + at) / PAGE) === null) b.fill(0, at, at + PAGE);
        return b;
      }),
    );
    const out = path.join(tmp, 'kdump-raw.bin');
    const r = await memview('export', file, '--view', 'raw.bin', '-o', out);
    expect(r).toMatchObject({ code: 0 });
    expect(fs.readFileSync(out).equals(expected)).toBe(true);
    const info = await memview('info', file);
    expect(info.stdout).toMatch(/format +kdump \(kdump-compressed signature/);
    expect(info.stdout).toMatch(/2 pages \(8192 bytes\) excluded by the dump level: not in the dump, served as zeros/);
    expect(info.stdout).toMatch(/VMCOREINFO from the kdump sub-header, OSRELEASE=6\.1\.0-13-amd64 \(consistent with the image: RAM not scanned\)/);
  });

  it("--map replaces the bitmap's ranges (as for ELF sources)", async () => {
    const file = fx.dumps['zlib-d0'];
    const map = path.join(tmp, 'small.iomem');
    fs.writeFileSync(map, '00001000-0009fbff : System RAM\n00100000-001fffff : System RAM\n');
    const r = await memview('info', file, '--map', map, '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.map.origin).toBe(map);
    expect(j.map.ranges.map((x: { start: string; end: string }) => `${x.start}-${x.end}`)).toEqual(['0x1000-0x9fbff', '0x100000-0x1fffff']);
    expect(j.notes.join('\n')).toMatch(/RAM ranges from .*small\.iomem replace the image's own 3/);
  });

  it('through a FUSE mount of the flattened dump: drgn reads init_uts_ns virtually from vmcore, crash --osrelease reads it', async () => {
    const dir = path.join(tmp, 'mnt');
    const m = await startMount(fx.dumps['flat-zlib-d31'], dir);
    try {
      const { km } = fx.machine;
      const out = await drgnReads(path.join(dir, 'vmcore'), [{ address: km.symbols.init_uts_ns, size: km.uts.length, physical: false }]);
      expect(out.linux_kernel).toBe(true);
      expect(out.reads[0]).toBe(km.uts.toString('hex'));
      expect((await run('crash', ['--osrelease', path.join(dir, 'vmcore')])).stdout.trim()).toBe(km.osrelease);
    } finally {
      await m.stop();
    }
  });
});
