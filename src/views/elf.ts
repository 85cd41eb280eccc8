import { bytesPiece, Piece, zeroPiece } from '../engine/pieces';
import { RamRange, Segment } from '../types';
import { rangePieces } from './ram-pieces';

/** ELF64 little-endian layout constants (System V gABI, elf.h). */
export const EHDR_SIZE = 64;
export const PHDR_SIZE = 56;
export const ET_CORE = 4;
export const EM_X86_64 = 62;
export const PT_LOAD = 1;
export const PT_NOTE = 4;
const PF_RWX = 7;
const PAGE = 4096;

export interface ElfLoad {
  /** Physical (and virtual) address of the segment. */
  paddr: number;
  vaddr?: number;
  length: number;
  /** The segment's bytes; their total length must equal `length`. */
  pieces: Piece[];
}

export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function elfHeader(phnum: number): Buffer {
  const h = Buffer.alloc(EHDR_SIZE);
  h.write('\x7fELF', 0, 'latin1');
  h[4] = 2; // ELFCLASS64
  h[5] = 1; // ELFDATA2LSB
  h[6] = 1; // EV_CURRENT
  h.writeUInt16LE(ET_CORE, 16);
  h.writeUInt16LE(EM_X86_64, 18);
  h.writeUInt32LE(1, 20); // e_version
  h.writeBigUInt64LE(BigInt(EHDR_SIZE), 32); // e_phoff
  h.writeUInt16LE(EHDR_SIZE, 52); // e_ehsize
  h.writeUInt16LE(PHDR_SIZE, 54); // e_phentsize
  h.writeUInt16LE(phnum, 56);
  return h;
}

function phdr(type: number, flags: number, offset: number, vaddr: bigint, paddr: bigint, size: number, align: number): Buffer {
  const p = Buffer.alloc(PHDR_SIZE);
  p.writeUInt32LE(type, 0);
  p.writeUInt32LE(flags, 4);
  p.writeBigUInt64LE(BigInt(offset), 8);
  p.writeBigUInt64LE(vaddr, 16);
  p.writeBigUInt64LE(paddr, 24);
  p.writeBigUInt64LE(BigInt(size), 32); // p_filesz
  p.writeBigUInt64LE(BigInt(size), 40); // p_memsz
  p.writeBigUInt64LE(BigInt(align), 48);
  return p;
}

/**
 * An ELF64 ET_CORE: header, PT_NOTE first (p_align 4), then one PT_LOAD per
 * segment in the given order; all headers and notes precede the data, and
 * each segment's data starts on a page boundary in the file.
 */
export function elfCorePieces(notes: Buffer, loads: readonly ElfLoad[]): Piece[] {
  const phnum = 1 + loads.length;
  const notesOffset = EHDR_SIZE + phnum * PHDR_SIZE;
  let dataOffset = alignUp(notesOffset + notes.length, PAGE);
  const headers: Buffer[] = [elfHeader(phnum), phdr(PT_NOTE, 0, notesOffset, 0n, 0n, notes.length, 4)];
  const body: Piece[] = [];
  for (const load of loads) {
    headers.push(phdr(PT_LOAD, PF_RWX, dataOffset, BigInt.asUintN(64, BigInt(load.vaddr ?? load.paddr)), BigInt.asUintN(64, BigInt(load.paddr)), load.length, 0));
    body.push(...load.pieces);
    const padded = alignUp(load.length, PAGE);
    body.push(zeroPiece(padded - load.length));
    dataOffset += padded;
  }
  const head = Buffer.concat([...headers, notes]);
  return [bytesPiece(head), zeroPiece(alignUp(head.length, PAGE) - head.length), ...body];
}

/** memory.elf: one PT_LOAD per RAM range, p_vaddr = p_paddr (QEMU's non-paging convention). */
export function physicalElfPieces(segments: readonly Segment[], ranges: readonly RamRange[], notes: Buffer = Buffer.alloc(0)): Piece[] {
  return elfCorePieces(
    notes,
    ranges.map((r) => ({ paddr: r.start, length: r.length, pieces: rangePieces(segments, r) })),
  );
}
