/**
 * The kernel's VMCOREINFO note harvested from RAM, memory.elf's notes and the
 * vmcore view's kernel-image loads, on synthetic kernel machines (in
 * process); bad notes are reported, never fatal.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { harvestKernel, ScanMode } from '../src/kernel/harvest';
import { openSource } from '../src/sources/open';
import { buildViews } from '../src/views/index';
import { readElf, readNotes } from './helpers/elf-reader';
import { kernelDebuggerElf, leechcoreElf, virtualOnlyLoads } from './helpers/consumers';
import {
  elfNoteBytes,
  KernelMachine,
  kernelMachine,
  KernelOptions,
  kernelPhysical,
  Patch,
  START_KERNEL_MAP,
  vmcoreinfoNoteBytes,
  writeKernelMachine,
  writeSparseKernelMachine,
} from './helpers/kernel';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'memview-vmcore-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;

async function mountInProcess(km: KernelMachine, extra: Patch[] = [], mode: ScanMode = 'first') {
  const files = writeKernelMachine(path.join(tmp, `m${n++}`), km, extra);
  const source = await openSource(files.raw, { map: files.iomem });
  try {
    const kernel = await harvestKernel(source, mode);
    const views = buildViews(source, kernel);
    const read = async (name: string) => {
      const v = views.find((x) => x.name === name);
      if (!v) return null;
      const buf = Buffer.alloc(v.file.size);
      await v.file.read(buf, 0, buf.length);
      return buf;
    };
    const info = JSON.parse((await read('info.json'))!.toString());
    return { kernel, views, info, elf: (await read('memory.elf'))!, vmcore: await read('vmcore') };
  } finally {
    source.close();
  }
}

function notesOf(file: Buffer) {
  const note = readElf(file).phdrs[0];
  return readNotes(file.subarray(note.offset, note.offset + note.filesz));
}

const elfNotes = (r: { info: { views: { name: string; notes?: string[] }[] } }) => r.info.views.find((v) => v.name === 'memory.elf')!.notes!.join('\n');

describe('VMCOREINFO in memory.elf and the vmcore view', () => {
  it('memory.elf carries CORE NT_PRSTATUS and the note copied byte for byte from RAM', async () => {
    const km = kernelMachine();
    const r = await mountInProcess(km);
    const notes = notesOf(r.elf);
    expect(notes.map((x) => [x.name, x.type])).toEqual([
      ['CORE', 1],
      ['VMCOREINFO', 0],
    ]);
    expect(notes[1].desc.toString('latin1')).toBe(km.noteText);
    // The PT_NOTE holds exactly: the CORE note, then the kernel's note (without its terminating empty note).
    const ph = readElf(r.elf).phdrs[0];
    const kernelNote = vmcoreinfoNoteBytes(km.noteText).subarray(0, -12);
    expect(r.elf.subarray(ph.offset + ph.filesz - kernelNote.length, ph.offset + ph.filesz).equals(kernelNote)).toBe(true);
    expect(r.info.kernel.chosen).toMatchObject({ phys: '0x' + km.notePhys!.toString(16), osrelease: km.osrelease, problems: [] });
    expect(r.info.kernel.chosen.evidence.join('\n')).toMatch(/init_uts_ns .* reads "Linux" release 6\.1\.0-13-amd64/);
    // The text-only vmcoreinfo_data page next to the note is not a note.
    expect(r.kernel.candidates).toHaveLength(1);
    expect(r.kernel.rejected).toEqual([]);
  });

  it('vmcore: memory.elf plus p_paddr -1 loads mapping the kernel image virtually onto the same file bytes', async () => {
    const km = kernelMachine();
    const r = await mountInProcess(km);
    const vm = r.vmcore!;
    kernelDebuggerElf(vm);
    // Besides the p_paddr -1 loads (which drgn and crash skip as physical), exactly memory.elf's loads.
    const physicalPhdrs = (f: Buffer) => readElf(f).phdrs.filter((p) => p.paddr !== 0xffffffffffffffffn);
    expect(physicalPhdrs(vm)).toEqual(physicalPhdrs(r.elf).map((p) => (p.type === 4 ? { ...p, offset: expect.any(Number) } : p)));
    const aliases = virtualOnlyLoads(vm);
    expect(aliases.length).toBeGreaterThan(0);
    const physicalEnd = Math.max(...leechcoreElf(r.elf).map((s) => s.offset + s.length));
    for (const a of aliases) {
      expect(a.offset + a.length).toBeLessThanOrEqual(physicalEnd); // no data of their own
      const phys = Number(a.vaddr - START_KERNEL_MAP + km.physBase);
      expect(vm.subarray(a.offset, a.offset + a.length).equals(kernelPhysical(km, phys, a.length)), `alias 0x${a.vaddr.toString(16)}`).toBe(true);
    }
    // The kernel text and init_uts_ns are covered.
    const covers = (v: bigint) => aliases.some((a) => a.vaddr <= v && v < a.vaddr + BigInt(a.length));
    expect(covers(km.symbols._stext) && covers(km.symbols.init_uts_ns) && covers(km.symbols.swapper_pg_dir)).toBe(true);
    expect(vm.length).toBe(r.elf.length); // no data of its own: only more program headers, within the first page
  });

  it('stops at the first consistent note (cost independent of the RAM behind it); --vmcoreinfo all reads everything', async () => {
    const km = kernelMachine();
    const first = await mountInProcess(km);
    expect(first.kernel.scannedBytes).toBeLessThan(first.kernel.ramBytes);
    expect(elfNotes(first)).toMatch(/stopped at the first note consistent with the image after \d+ of \d+ RAM bytes/);
    const all = await mountInProcess(km, [], 'all');
    expect(all.kernel.scannedBytes).toBe(all.kernel.ramBytes);
    expect(all.kernel.chosen!.phys).toBe(km.notePhys);
    const off = await mountInProcess(km, [], 'off');
    expect(off.vmcore).toBeNull();
    expect(notesOf(off.elf).map((x) => x.name)).toEqual(['CORE']);
  });
});

describe('default scan on a big machine: bounded to the windows where kernels put the note', () => {
  const GiB = 2 ** 30;
  // 3 GiB below the PCI hole and 2 GiB above 4 GiB, sparse (holes read as zeros): cheap to write.
  const ranges = [
    { start: 0x1000, end: 0x9fbff },
    { start: 0x100000, end: 3 * GiB - 1 },
    { start: 4 * GiB, end: 6 * GiB - 1 },
  ];
  async function harvestSparse(notePhys: number, mode: ScanMode = 'first') {
    const f = writeSparseKernelMachine(path.join(tmp, `sparse${n++}`), kernelMachine({ ranges, notePhys }));
    const source = await openSource(f.raw, { map: f.iomem });
    try {
      return await harvestKernel(source, mode);
    } finally {
      source.close();
      fs.rmSync(f.raw);
    }
  }

  it('finds a note at the top of RAM (where kernels before 5.10 allocate) after reading about 1 GiB of 5 GiB', async () => {
    const h = await harvestSparse(6 * GiB - 0x3000);
    expect(h.chosen?.phys).toBe(6 * GiB - 0x3000);
    expect(h.chosen?.image).toBeDefined();
    expect(h.scannedBytes).toBeLessThanOrEqual(16 * 2 ** 20 + 4 * 256 * 2 ** 20);
  });

  it('does not read past the windows for a note elsewhere, and says how to read everything', async () => {
    const h = await harvestSparse(1.5 * GiB);
    expect(h.chosen).toBeNull();
    expect(h.scannedBytes).toBeLessThanOrEqual(16 * 2 ** 20 + 4 * 256 * 2 ** 20);
    expect(h.report.join('\n')).toMatch(
      /no VMCOREINFO note found \(searched where kernels put it \(0x1000-0x9fbff, 0x100000-0x10ffffff, 0x100000000-0x10fffffff, 0xb0000000-0xbfffffff, 0x170000000-0x17fffffff\).*--vmcoreinfo all reads all RAM/,
    );
  });
});

describe('bad kernel notes: reported in info, never fatal', () => {
  it('no note: memory.elf is still a valid core with the CORE note only; no vmcore; info says why', async () => {
    const r = await mountInProcess(kernelMachine({ notePhys: null }));
    expect(r.vmcore).toBeNull();
    expect(notesOf(r.elf).map((x) => x.name)).toEqual(['CORE']);
    leechcoreElf(r.elf);
    expect(elfNotes(r)).toMatch(
      /no VMCOREINFO note found \(searched where kernels put it \(0x1000-0x9fbff, 0x100000-0x9fffff, 0x100000000-0x1001fffff\): \d+ of \d+ RAM bytes.*--vmcoreinfo all reads all RAM\): memory.elf carries none, so drgn and crash will not see a Linux kernel; vmcore is not served/,
    );
  });

  it('a truncated note (descsz beyond the text) is rejected and named', async () => {
    const km = kernelMachine({ notePhys: null });
    const text = kernelMachine().noteText.slice(0, 300); // cut mid-line
    const page = Buffer.alloc(4096);
    vmcoreinfoNoteBytes(text, 800).copy(page);
    const r = await mountInProcess(km, [{ phys: 0x93f000, data: page }]);
    expect(r.vmcore).toBeNull();
    expect(r.kernel.rejected).toEqual([{ phys: 0x93f000, reason: expect.stringMatching(/^truncated: descsz 800 but the text stops after 300 bytes/) }]);
    expect(elfNotes(r)).toMatch(/not a usable VMCOREINFO note at physical 0x93f000: truncated/);
  });

  it('a non-printable note is rejected and named', async () => {
    const km = kernelMachine({ notePhys: null });
    const text = Buffer.from(kernelMachine().noteText, 'latin1');
    text[40] = 0x01;
    const r = await mountInProcess(km, [{ phys: 0x93f000, data: elfNoteBytes('VMCOREINFO', 0, text) }]);
    expect(r.vmcore).toBeNull();
    expect(r.kernel.rejected).toEqual([{ phys: 0x93f000, reason: 'text is not printable (byte 0x1 at +0x28 of ' + text.length + ')' }]);
  });

  it('conflicting notes: a stale copy from another boot is reported, the one consistent with the image is chosen', async () => {
    const km = kernelMachine();
    // An older kernel's note, lower in RAM (seen first), whose phys_base puts its kernel outside RAM.
    const stale = kernelMachine({ osrelease: '5.10.0-26-amd64', kernelOffset: 0x12000000n, textPhys: 0x20000000 }).noteText;
    const extra = [{ phys: 0x300000, data: vmcoreinfoNoteBytes(stale) }];
    for (const mode of ['first', 'all'] as ScanMode[]) {
      const r = await mountInProcess(km, extra, mode);
      expect(r.kernel.chosen!.phys).toBe(km.notePhys);
      expect(notesOf(r.vmcore!)[1].desc.toString('latin1')).toBe(km.noteText);
      expect(elfNotes(r)).toMatch(
        /2 different VMCOREINFO notes: 0x300000 \(5\.10\.0-26-amd64: NUMBER\(phys_base\) .* outside RAM.*\), 0x93f000 \(6\.1\.0-13-amd64, consistent with the image\)/,
      );
    }
  });

  it('a note whose phys_base puts the kernel outside RAM: memory.elf keeps the note, vmcore is not served', async () => {
    const r = await mountInProcess(kernelMachine({ notePhysBase: 0x7000000000n }));
    expect(r.vmcore).toBeNull();
    expect(notesOf(r.elf).map((x) => x.name)).toEqual(['CORE', 'VMCOREINFO']);
    expect(elfNotes(r)).toMatch(/vmcore not served: NUMBER\(phys_base\) 481036337152 puts the kernel text \(_stext\) at physical 0x702f000000, outside RAM/);
    expect(r.views.map((v) => v.name)).not.toContain('vmcore');
  });
});

export type { KernelOptions };
