import { describe, expect, it } from 'vitest';
import { parseIomem } from '../src/maps/iomem';

// Hand-written /proc/iomem texts with the quirks formats.md 3.2 lists; expected maps derived by hand.
const r = (start: number, end: number) => ({ start, length: end - start + 1 });

describe('/proc/iomem quirks', () => {
  it('old kernel: first 64 KiB reserved (lowercase "reserved"), RAM from 0x10000', () => {
    const text = [
      '00000000-0000ffff : reserved',
      '00010000-0009e7ff : System RAM',
      '0009e800-0009ffff : reserved',
      '000a0000-000bffff : PCI Bus 0000:00',
      '000dc000-000fffff : reserved',
      '  000f0000-000fffff : System ROM',
      '00100000-bfeeffff : System RAM',
      '  01000000-0168c5cd : Kernel code',
      '  0168c5ce-01d1a53f : Kernel data',
      '  01e8c000-01fc9fff : Kernel bss',
      'bfef0000-bfefefff : ACPI Tables',
      'bfeff000-bfefffff : ACPI Non-volatile Storage',
      'bff00000-bfffffff : System RAM',
      'c0000000-febfffff : PCI Bus 0000:00',
      '',
    ].join('\n');
    expect(parseIomem(text)).toEqual([r(0x10000, 0x9e7ff), r(0x100000, 0xbfeeffff), r(0xbff00000, 0xbfffffff)]);
  });

  it('setup_data splits System RAM at unaligned bytes: adjacent ranges stay exact; first page ACPI NVS', () => {
    const text = [
      '00000000-00000fff : ACPI Non-volatile Storage',
      '00001000-0009ffff : System RAM',
      '000a0000-000fffff : Reserved',
      '00100000-0a6f3017 : System RAM',
      '0a6f3018-0a6f5057 : System RAM',
      '0a6f5058-3fffffff : System RAM',
      '  2a000000-2ac031d0 : Kernel code',
      '40000000-403fffff : Reserved',
      '',
    ].join('\n');
    expect(parseIomem(text)).toEqual([r(0x1000, 0x9ffff), r(0x100000, 0xa6f3017), r(0xa6f3018, 0xa6f5057), r(0xa6f5058, 0x3fffffff)]);
  });

  it('System RAM nested inside System RAM (containers) is counted once', () => {
    const text = [
      '00001000-0009fbff : System RAM',
      '00100000-7ffdffff : System RAM',
      '  00100000-7ffdffff : System RAM',
      '    01000000-01a031d0 : Kernel code',
      '',
    ].join('\n');
    expect(parseIomem(text)).toEqual([r(0x1000, 0x9fbff), r(0x100000, 0x7ffdffff)]);
  });

  it('hotplugged RAM nested under non-RAM parents counts: System RAM (kmem) and (virtio_mem)', () => {
    const text = [
      '00001000-0009fbff : System RAM',
      '00100000-bfffffff : System RAM',
      '100000000-13fffffff : System RAM',
      '140000000-17fffffff : Persistent Memory',
      '  140000000-17fffffff : namespace0.0',
      '    140000000-17fffffff : dax0.0',
      '      140000000-17fffffff : System RAM (kmem)',
      '180000000-27fffffff : virtio-mem (virtio0)',
      '  180000000-1bfffffff : System RAM (virtio_mem)',
      '  1c0000000-1ffffffff : System RAM (virtio_mem)',
      '',
    ].join('\n');
    expect(parseIomem(text)).toEqual([
      r(0x1000, 0x9fbff),
      r(0x100000, 0xbfffffff),
      r(0x100000000, 0x13fffffff),
      r(0x140000000, 0x17fffffff),
      r(0x180000000, 0x1bfffffff),
      r(0x1c0000000, 0x1ffffffff),
    ]);
  });
});
