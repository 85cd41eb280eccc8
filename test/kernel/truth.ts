/**
 * Ground truth from a booted guest, read independently of src/: the guest's
 * own /proc/iomem, QEMU's ELF dump (physical PT_LOADs at the same instant),
 * its VMCOREINFO note, and LiME's record headers.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { readElf, readNotes } from '../helpers/elf-reader';
import { GuestResult } from './guest';
import { Layout } from './layouts';
import { runDir } from './paths';

/** An inclusive physical range, as /proc/iomem prints it. */
export interface Span {
  start: number;
  end: number;
}

export const fmt = (spans: Span[]) => spans.map((s) => `0x${s.start.toString(16)}-0x${s.end.toString(16)}`);

/** Top-level lines of /proc/iomem named NAME (System RAM is never nested). */
export function iomemEntries(text: string, name: string, nested = false): Span[] {
  const out: Span[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\s*)([0-9a-f]+)-([0-9a-f]+) : (.*)$/.exec(line);
    if (!m || m[4] !== name || (!nested && m[1] !== '')) continue;
    out.push({ start: parseInt(m[2], 16), end: parseInt(m[3], 16) });
  }
  return out;
}

/** The guest's System RAM, adjacent lines joined (the kernel splits ranges at firmware boundaries only). */
export function systemRam(iomem: string): Span[] {
  return iomemEntries(iomem, 'System RAM');
}

/** Each booted layout with its run directory, as the global setup left them. */
export interface Boot {
  layout: Layout;
  dir: string;
  result: GuestResult;
  file: (name: string) => string;
  text: (name: string) => string;
}

/** The layouts of this run, each with what its boot left (result.json, written by guest.ts). */
export function boots(layouts: readonly Layout[]): Boot[] {
  return layouts.map((layout) => {
    const dir = runDir(layout.name);
    const file = (name: string) => path.join(dir, name);
    const result = JSON.parse(fs.readFileSync(file('result.json'), 'utf8')) as GuestResult;
    return { layout, dir, result, file, text: (name: string) => fs.readFileSync(file(name), 'utf8') };
  });
}

export interface ElfLoad {
  paddr: number;
  vaddr: bigint;
  offset: number;
  length: number;
}

export interface QemuElf {
  loads: ElfLoad[];
  vmcoreinfo: Map<string, string>;
  phoff: number;
}

function readHead(file: string, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    return buf.subarray(0, fs.readSync(fd, buf, 0, length, 0));
  } finally {
    fs.closeSync(fd);
  }
}

export function vmcoreinfoFields(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) m.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return m;
}

/** An ELF core's physical loads and its VMCOREINFO note (QEMU's, or memview's). */
export function readCore(file: string): QemuElf {
  const head = readHead(file, 1 << 20);
  const elf = readElf(head);
  const loads = elf.phdrs
    .filter((p) => p.type === 1 && p.filesz > 0)
    .map((p) => ({ paddr: Number(p.paddr), vaddr: p.vaddr, offset: p.offset, length: p.filesz }));
  let vmcoreinfo = new Map<string, string>();
  for (const p of elf.phdrs.filter((p) => p.type === 4)) {
    for (const n of readNotes(head.subarray(p.offset, p.offset + p.filesz))) {
      if (n.name === 'VMCOREINFO') vmcoreinfo = vmcoreinfoFields(n.desc.toString('latin1'));
    }
  }
  return { loads, vmcoreinfo, phoff: elf.phoff };
}

/** Bytes of physical [phys, phys+length) from an ELF core's physical loads (throws where none holds them). */
export function readPhysical(file: string, core: QemuElf, phys: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  const fd = fs.openSync(file, 'r');
  try {
    for (let done = 0; done < length;) {
      const at = phys + done;
      const l = core.loads.find((x) => x.paddr <= at && at < x.paddr + x.length);
      if (!l) throw new Error(`${file}: physical 0x${at.toString(16)} is in no PT_LOAD`);
      const n = Math.min(length - done, l.paddr + l.length - at);
      fs.readSync(fd, out, done, n, l.offset + (at - l.paddr));
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

/** Physical loads of QEMU's ELF merged into RAM spans (QEMU splits at its own memory regions). */
export function loadSpans(core: QemuElf): Span[] {
  const spans: Span[] = [];
  for (const l of [...core.loads].sort((a, b) => a.paddr - b.paddr)) {
    const last = spans[spans.length - 1];
    if (last && last.end + 1 === l.paddr) last.end = l.paddr + l.length - 1;
    else spans.push({ start: l.paddr, end: l.paddr + l.length - 1 });
  }
  return spans;
}

/** LiME record headers (magic EMiL, version 1, inclusive start/end), walked without src/. */
export function limeRecords(data: Buffer | string): (Span & { offset: number })[] {
  const read = typeof data === 'string' ? (pos: number) => readHead2(data, pos) : (pos: number) => data.subarray(pos, pos + 32);
  const size = typeof data === 'string' ? fs.statSync(data).size : data.length;
  const out: (Span & { offset: number })[] = [];
  for (let pos = 0; pos < size;) {
    const h = read(pos);
    if (h.readUInt32LE(0) !== 0x4c694d45 || h.readUInt32LE(4) !== 1) throw new Error(`no LiME header at 0x${pos.toString(16)}`);
    const start = Number(h.readBigUInt64LE(8));
    const end = Number(h.readBigUInt64LE(16));
    out.push({ start, end, offset: pos + 32 });
    pos += 32 + end - start + 1;
  }
  return out;
}

function readHead2(file: string, pos: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(32);
    fs.readSync(fd, b, 0, 32, pos);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

/** LiME compress=1: the whole LiME file as one zlib stream. */
export function inflateLime(file: string): Buffer {
  return zlib.inflateSync(fs.readFileSync(file));
}
