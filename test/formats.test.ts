/**
 * formats/: each on-disk layout against byte-literal vectors written out by
 * hand from the specifications (formats.md, elf.h, LiME src/lime.h, AVML
 * src/image.rs, snappy framing_format.txt), and read back by the same code.
 */
import { describe, expect, it } from 'vitest';
import { decodeAvmlHeader, encodeAvmlHeader, isAvmlHeader } from '../src/formats/avml';
import { crc32c, maskCrc } from '../src/formats/crc32c';
import { decodeElfHeader, decodeNotes, decodePhdr, encodeCoreHeader, encodeNote, encodePhdr, notePadded, sectionZeroInfo } from '../src/formats/elf64';
import { decodeLimeHeader, encodeLimeHeader } from '../src/formats/lime';
import { decodeChunkHeader, encodeChunkHeader, snappyLength } from '../src/formats/snappy-framing';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('LiME v1 header', () => {
  // magic 0x4c694d45 LE, version 1, s_addr 0x1000, e_addr 0x9fbff (inclusive), reserved 0.
  const vector = hex('454d694c 01000000 0010000000000000 fffb090000000000 0000000000000000');

  it('is written byte for byte', () => {
    expect(encodeLimeHeader(0x1000, 0x9fbff)).toEqual(vector);
  });

  it('is read back field by field', () => {
    expect(decodeLimeHeader(vector)).toEqual({ magic: 0x4c694d45, version: 1, start: 0x1000n, endInclusive: 0x9fbffn });
    expect(vector.toString('latin1', 0, 4)).toBe('EMiL');
  });
});

describe('AVML v2 record header', () => {
  // "AVML", version 2, start 0x100000, end 0x1ffffff, padding 0.
  const vector = hex('41564d4c 02000000 0000100000000000 ffffff0100000000 0000000000000000');

  it('is written and read by the same layout', () => {
    expect(encodeAvmlHeader(0x100000, 0x1ffffff)).toEqual(vector);
    expect(decodeAvmlHeader(vector)).toEqual({ magic: 0x4c4d5641, version: 2, start: 0x100000n, endInclusive: 0x1ffffffn, padding: 0n });
    expect(isAvmlHeader(vector)).toBe(true);
  });

  it('needs magic, version and all 32 bytes', () => {
    expect(isAvmlHeader(vector.subarray(0, 31))).toBe(false);
    const v1 = Buffer.from(vector);
    v1[4] = 1;
    expect(isAvmlHeader(v1)).toBe(false);
  });
});

describe('Snappy framing', () => {
  it('chunk header: type byte and a u24 LE length', () => {
    expect(encodeChunkHeader(0x00, 0x12345)).toEqual(hex('00 452301'));
    expect(decodeChunkHeader(hex('ff 060000'))).toEqual({ type: 0xff, bodyLength: 6 });
    expect(decodeChunkHeader(hex('01 ffffff'))).toEqual({ type: 0x01, bodyLength: 0xffffff });
    expect(() => encodeChunkHeader(0, 0x1000000)).toThrow(RangeError);
  });

  it('raw block length from its varint preamble', () => {
    expect(snappyLength(hex('00'))).toBe(0);
    expect(snappyLength(hex('7f'))).toBe(127);
    expect(snappyLength(hex('8001'))).toBe(128);
    expect(snappyLength(hex('808004'))).toBe(65536);
    expect(snappyLength(hex('ffffffff0f'))).toBe(0xffffffff);
    expect(snappyLength(hex('ffffffffff'))).toBe(-1); // no end within 5 bytes
    expect(snappyLength(hex('80'))).toBe(-1); // cut short
  });

  it('CRC-32C check value and its masked form (framing_format.txt section 3)', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(maskCrc(0xe3069283)).toBe(0xc78ab0e5);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  });
});

describe('ELF64 core', () => {
  it('file header: x86-64 ET_CORE, program headers right after it', () => {
    const vector = hex(
      '7f454c46 02 01 01 00 0000000000000000' + // e_ident
        '0400 3e00 01000000 0000000000000000' + // e_type, e_machine, e_version, e_entry
        '4000000000000000 0000000000000000' + // e_phoff 0x40, e_shoff 0
        '00000000 4000 3800 0300 0000 0000 0000', // e_flags, e_ehsize, e_phentsize, e_phnum 3, e_shentsize, e_shnum, e_shstrndx
    );
    expect(encodeCoreHeader(3)).toEqual(vector);
    expect(decodeElfHeader(vector)).toEqual({ class: 2, data: 1, type: 4, machine: 62, phoff: 0x40n, shoff: 0n, phentsize: 56, phnum: 3 });
  });

  it('program header: PT_LOAD with p_filesz = p_memsz', () => {
    const vector = hex(
      '01000000 07000000' + // p_type PT_LOAD, p_flags RWX
        '0010000000000000' + // p_offset 0x1000
        '0000000080000000 0000100000000000' + // p_vaddr 0x8000000000, p_paddr 0x100000
        '0020000000000000 0020000000000000 0000000000000000', // p_filesz, p_memsz 0x2000, p_align 0
    );
    const fields = { type: 1, flags: 7, offset: 0x1000, vaddr: 0x8000000000n, paddr: 0x100000n, size: 0x2000, align: 0 };
    expect(encodePhdr(fields)).toEqual(vector);
    expect(decodePhdr(vector, 0, 5)).toEqual({
      index: 5,
      type: 1,
      flags: 7,
      offset: 0x1000n,
      vaddr: 0x8000000000n,
      paddr: 0x100000n,
      filesz: 0x2000n,
      memsz: 0x2000n,
      align: 0n,
    });
    // p_paddr -1 (no physical address) is written as all ones.
    expect(encodePhdr({ ...fields, paddr: -1n }).subarray(24, 32)).toEqual(hex('ffffffffffffffff'));
  });

  it('section header 0 sh_info carries the real e_phnum under PN_XNUM', () => {
    const sh0 = Buffer.alloc(64);
    sh0.writeUInt32LE(70000, 44);
    expect(sectionZeroInfo(sh0)).toBe(70000);
  });

  it('note: name NUL-terminated, name and desc each padded to 4 bytes', () => {
    // namesz 5 ("CORE\0"), descsz 3, type 1; "CORE\0" + 3 pad; desc "abc" + 1 pad.
    const vector = hex('05000000 03000000 01000000 434f5245 00000000 61626300');
    expect(encodeNote('CORE', 1, Buffer.from('abc'))).toEqual(vector);
    expect(decodeNotes(vector)).toEqual([{ name: 'CORE', type: 1, desc: Buffer.from('abc') }]);
    // Name exactly 4 bytes with its NUL ("QEM\0"): no padding; empty desc.
    expect(encodeNote('QEM', 0, Buffer.alloc(0))).toEqual(hex('04000000 00000000 00000000 51454d00'));
  });

  it('notes in sequence; a note cut short or with a huge size ends the list', () => {
    const two = Buffer.concat([encodeNote('CORE', 1, Buffer.alloc(8, 1)), encodeNote('VMCOREINFO', 0, Buffer.from('OSRELEASE=6.1\n'))]);
    expect(decodeNotes(two).map((n) => [n.name, n.type, n.desc.length])).toEqual([
      ['CORE', 1, 8],
      ['VMCOREINFO', 0, 14],
    ]);
    expect(decodeNotes(two.subarray(0, two.length - 2))).toHaveLength(2); // the desc's padding may be missing
    expect(decodeNotes(two.subarray(0, two.length - 3))).toHaveLength(1); // the desc may not
    const huge = Buffer.concat([hex('ffffffff 04000000 00000000'), Buffer.alloc(16)]);
    expect(decodeNotes(huge)).toEqual([]);
  });

  it('the one padding rule does not overflow 32 bits', () => {
    expect([0, 1, 4, 5, 11, 12].map(notePadded)).toEqual([0, 4, 4, 8, 12, 12]);
    expect(notePadded(0xfffffffd)).toBe(0x100000000);
  });
});
