/**
 * Independent writer for the kernel's VMCOREINFO ELF note (Elf64_Nhdr,
 * include/uapi/linux/elf.h; text per Documentation/admin-guide/kdump/
 * vmcoreinfo.rst). Nothing here imports src/.
 */

/** u32 namesz, u32 descsz, u32 type (LE); name and desc each padded to 4 bytes. */
export function elfNote(name: string, type: number, desc: Buffer): Buffer {
  const nameBytes = Buffer.from(name + '\0', 'latin1');
  const pad = (n: number) => Math.ceil(n / 4) * 4;
  const out = Buffer.alloc(12 + pad(nameBytes.length) + pad(desc.length));
  out.writeUInt32LE(nameBytes.length, 0);
  out.writeUInt32LE(desc.length, 4);
  out.writeUInt32LE(type, 8);
  nameBytes.copy(out, 12);
  desc.copy(out, 12 + pad(nameBytes.length));
  return out;
}

/** A VMCOREINFO note (type 0) with the given KEY=VALUE lines. */
export function vmcoreinfoNote(lines: string[]): Buffer {
  return elfNote('VMCOREINFO', 0, Buffer.from(lines.map((l) => l + '\n').join(''), 'latin1'));
}

/**
 * Realistic x86-64 VMCOREINFO text (keys in the order kernel/crash_core.c and
 * arch/x86/kernel/machine_kexec_64.c emit them). `swapper` is the runtime
 * virtual address of swapper_pg_dir, `physBase` NUMBER(phys_base) (signed).
 */
export function x86VmcoreinfoLines(opts: { release: string; swapper: bigint; physBase: bigint; kernelOffset: bigint }): string[] {
  return [
    `OSRELEASE=${opts.release}`,
    'BUILD-ID=4d5c2b3e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c',
    'PAGESIZE=4096',
    'SYMBOL(init_uts_ns)=' + (opts.swapper + 0x1c3d000n).toString(16),
    'OFFSET(uts_namespace.name)=0',
    'SYMBOL(node_online_map)=' + (opts.swapper + 0x2a1e0n).toString(16),
    'SYMBOL(swapper_pg_dir)=' + opts.swapper.toString(16),
    'SYMBOL(_stext)=' + (opts.swapper - 0x1a0a000n).toString(16),
    'SYMBOL(vmap_area_list)=' + (opts.swapper + 0x51b80n).toString(16),
    'SYMBOL(mem_section)=' + (opts.swapper + 0x2c2a8a0n).toString(16),
    'LENGTH(mem_section)=2048',
    'SIZE(mem_section)=16',
    'OFFSET(mem_section.section_mem_map)=0',
    'NUMBER(SECTION_SIZE_BITS)=27',
    'NUMBER(MAX_PHYSMEM_BITS)=46',
    'SIZE(page)=64',
    'OFFSET(page.flags)=0',
    'NUMBER(PG_lru)=4',
    'NUMBER(phys_base)=' + opts.physBase.toString(10),
    'SYMBOL(init_top_pgt)=' + opts.swapper.toString(16),
    'NUMBER(pgtable_l5_enabled)=0',
    'KERNELOFFSET=' + opts.kernelOffset.toString(16),
    'NUMBER(KERNEL_IMAGE_SIZE)=1073741824',
  ];
}
