import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSource } from '../src/sources/open';
import { buildViews } from '../src/views/index';
import { readElf, readNotes } from './helpers/elf-reader';
import { kernelDebuggerElf, leechcoreElf, volatility2Elf, volatility3Elf, PhysSegment } from './helpers/consumers';
import { physicalBytes, Range, SAMPLE_RANGES, writeMachine } from './helpers/machine';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'memview-elfcore-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function viewBytes(raw: string, iomem: string, name: string) {
  const source = await openSource(raw, { map: iomem });
  try {
    const views = buildViews(source);
    const view = views.find((v) => v.name === name)!;
    const buf = Buffer.alloc(view.file.size);
    expect(await view.file.read(buf, 0, buf.length)).toBe(buf.length);
    return { buf, views };
  } finally {
    source.close();
  }
}

/** Every RAM byte is in a segment, and every segment holds the machine's bytes (zeros outside RAM). */
function expectServesMachine(file: Buffer, segs: PhysSegment[], ranges: Range[], salt: number): void {
  for (const s of segs) {
    expect(file.subarray(s.offset, s.offset + s.length).equals(physicalBytes(ranges, s.paddr, s.length, salt)), `segment 0x${s.paddr.toString(16)}`).toBe(true);
  }
  for (const r of ranges) {
    const covering = segs.find((s) => s.paddr <= r.start && r.end < s.paddr + s.length);
    expect(covering, `range 0x${r.start.toString(16)}`).toBeDefined();
  }
}

describe('memory.elf', () => {
  it('has the PT_NOTE first, page-rounded sorted PT_LOADs, and every consumer reads the RAM from it', async () => {
    const m = writeMachine(path.join(tmp, 'sample'), SAMPLE_RANGES, 0x77);
    const { buf } = await viewBytes(m.raw, m.iomem, 'memory.elf');
    const elf = readElf(buf);
    expect(elf).toMatchObject({ type: 4, machine: 62, version: 1, phoff: 64, ehsize: 64, phentsize: 56 });
    kernelDebuggerElf(buf);
    volatility2Elf(buf);
    const vol3 = volatility3Elf(buf);
    const leech = leechcoreElf(buf);
    expect(leech).toEqual(vol3);
    // 0x1000-0x9fbff is widened to 0x9ffff; the others are already whole pages.
    expect(leech.map((s) => [s.paddr, s.length])).toEqual([
      [0x1000, 0x9f000],
      [0x100000, 0x400000],
      [0x100000000, 0x100000],
    ]);
    for (const p of elf.phdrs.slice(1)) {
      expect(p.vaddr).toBe(p.paddr);
      expect(p.align).toBe(0);
      expect(p.offset % 4096).toBe(0);
    }
    expectServesMachine(buf, leech, m.ranges, m.salt);
    const note = elf.phdrs[0];
    expect(note.align).toBe(4);
    const notes = readNotes(buf.subarray(note.offset, note.offset + note.filesz));
    expect(notes[0]).toMatchObject({ name: 'CORE', type: 1 });
    expect(notes[0].desc.equals(Buffer.alloc(336))).toBe(true);
  });

  it('joins ranges across the smallest gaps to stay within 145 program headers, and says so', async () => {
    // 200 one-page ranges; gap i is (i * 37 % 200 + 1) pages, so gap sizes are all distinct.
    const ranges: Range[] = [];
    let pos = 0x100000;
    for (let i = 0; i < 200; i++) {
      ranges.push({ start: pos, end: pos + 0xfff });
      pos += 0x1000 + (((i * 37) % 200) + 1) * 0x1000;
    }
    const m = writeMachine(path.join(tmp, 'many'), ranges, 0x99);
    const { buf, views } = await viewBytes(m.raw, m.iomem, 'memory.elf');
    const segs = leechcoreElf(buf);
    expect(readElf(buf).phdrs.length).toBe(145);
    expect(volatility3Elf(buf)).toEqual(segs);
    expectServesMachine(buf, segs, ranges, m.salt);
    // The 143 gaps left between loads are the 143 largest gaps of the map.
    const gaps = ranges.slice(1).map((r, i) => r.start - (ranges[i].end + 1));
    const largest = [...gaps]
      .sort((a, b) => b - a)
      .slice(0, 143)
      .sort((a, b) => a - b);
    const kept = segs
      .slice(1)
      .map((s, i) => s.paddr - (segs[i].paddr + segs[i].length))
      .sort((a, b) => a - b);
    expect(kept).toEqual(largest);
    const notes = views.find((v) => v.name === 'memory.elf')!.notes!.join('\n');
    expect(notes).toMatch(/200 page-rounded RAM ranges exceed 144 PT_LOADs.*joined across the 56 smallest gaps/);
  });
});
