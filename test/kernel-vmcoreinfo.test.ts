import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { kernelFacts, parseVmcoreinfoNoteAt, VMCOREINFO_NEEDLE, VMCOREINFO_NEEDLE_OFFSET, VmcoreinfoNote } from '../src/kernel/vmcoreinfo';
import { elfNoteBytes, kernelMachine } from './helpers/kernel';

/** Every valid note in `buf` (offsets are `base` + index), as a scanner finds them: needle hit, then the parser. */
function findVmcoreinfoNotes(buf: Buffer, base = 0): VmcoreinfoNote[] {
  const found: VmcoreinfoNote[] = [];
  for (let hit = buf.indexOf(VMCOREINFO_NEEDLE); hit >= 0; hit = buf.indexOf(VMCOREINFO_NEEDLE, hit + 1)) {
    const note = parseVmcoreinfoNoteAt(buf, hit - VMCOREINFO_NEEDLE_OFFSET, base);
    if (note) found.push(note);
  }
  return found;
}

// KASLR'd kernel: swapper_pg_dir at 0xffffffffa5e0a000, phys_base -476053504 (-0x1c600000):
// physical page table = 0xffffffffa5e0a000 - 0xffffffff80000000 - 0x1c600000 = 0x0980a000.
const LINES = kernelMachine({ osrelease: '6.1.0-18-amd64', kernelOffset: 0x24800000n })
  .noteText.replace(/^SYMBOL\(swapper_pg_dir\)=.*$/m, 'SYMBOL(swapper_pg_dir)=ffffffffa5e0a000')
  .replace(/^NUMBER\(phys_base\)=.*$/m, 'NUMBER(phys_base)=-476053504')
  .split('\n')
  .slice(0, -1);
const vmcoreinfoNote = (lines: string[]) => elfNoteBytes('VMCOREINFO', 0, Buffer.from(lines.map((l) => l + '\n').join(''), 'latin1'));
const elfNote = elfNoteBytes;

describe('VMCOREINFO note finder and parser', () => {
  it('finds the one valid note among decoys and random bytes', () => {
    const good = vmcoreinfoNote(LINES);
    const wrongType = elfNote('VMCOREINFO', 1, Buffer.from('OSRELEASE=6.1.0\n'));
    const notOsrelease = vmcoreinfoNote(['PAGESIZE=4096', 'OSRELEASE=6.1.0']);
    const binary = vmcoreinfoNote(['OSRELEASE=6.1.0\u0001\u0002']);
    const bareText = Buffer.from('VMCOREINFO\0\0OSRELEASE=6.1.0\n'); // no note header before it
    const buf = Buffer.concat([randomBytes(1000), wrongType, randomBytes(13), notOsrelease, binary, bareText, randomBytes(7), good, randomBytes(100)]);
    const at = buf.length - 100 - good.length;
    const found = findVmcoreinfoNotes(buf, 0x10000);
    expect(found).toHaveLength(1);
    expect(found[0].offset).toBe(0x10000 + at);
    expect(found[0].note.equals(good)).toBe(true);
    expect(found[0].text).toBe(LINES.join('\n') + '\n');
    expect(found[0].fields.get('OSRELEASE')).toBe('6.1.0-18-amd64');
    expect(found[0].fields.get('SYMBOL(swapper_pg_dir)')).toBe('ffffffffa5e0a000');
  });

  it('rejects a note cut by the end of the buffer', () => {
    const good = vmcoreinfoNote(LINES);
    expect(parseVmcoreinfoNoteAt(good.subarray(0, good.length - 40), 0)).toBeNull();
    expect(parseVmcoreinfoNoteAt(good, 0)).not.toBeNull();
  });

  it('computes the x86-64 page-table address with a negative phys_base', () => {
    const [note] = findVmcoreinfoNotes(vmcoreinfoNote(LINES));
    expect(kernelFacts(note.fields)).toEqual({
      osrelease: '6.1.0-18-amd64',
      pageSize: 4096,
      kernelOffset: 0x24800000n,
      physBase: -476053504n,
      swapperPgDir: 0xffffffffa5e0a000n,
      pageTablePhys: 0x0980a000,
      pagingLevels: 4,
      // _stext = __START_KERNEL_map + 16 MiB + KERNELOFFSET; physical 0xffffffffa5800000 - 0xffffffff80000000 - 0x1c600000.
      textVirt: 0xffffffffa5800000n,
      textPhys: 0x09200000,
    });
  });

  it('leaves out what the note does not say', () => {
    const [note] = findVmcoreinfoNotes(vmcoreinfoNote(['OSRELEASE=5.10.0', 'PAGESIZE=4096']));
    expect(kernelFacts(note.fields)).toEqual({ osrelease: '5.10.0', pageSize: 4096 });
  });
});
