#!/usr/bin/env bash
# The quick-start demo: finds the sample machine's memory map inside the raw dump, mounts it,
# lists and checks the views with third-party readers where installed, unmounts.
set -euo pipefail
cd "$(dirname "$0")/.."
memview() { node bin/memview "$@"; }
sample=fixtures/sample
for f in machine.raw machine.iomem machine.dmesg; do [ -f "$sample/$f" ] || { node dist/scripts/make-sample.js "$sample"; break; }; done   # also a sample left by an older version
mnt=$(mktemp -d /tmp/memview-demo.XXXXXX)
cleanup() { memview umount "$mnt" 2>/dev/null || true; wait 2>/dev/null || true; rmdir "$mnt" 2>/dev/null || true; }
trap cleanup EXIT

echo "== memview map: where is the map of this raw dump? (its boot log, found inside the image)"
memview map "$sample/machine.raw" --iomem "$sample/machine.iomem" --dmesg "$sample/machine.dmesg" --scan

echo; echo "== memview info (no --map: the map is found in the image)"
memview info "$sample/machine.raw"

echo; echo "== memview mount (in the background)"
memview mount "$sample/machine.raw" "$mnt" &
for _ in $(seq 150); do mountpoint -q "$mnt" && [ -e "$mnt/padded.raw" ] && break; sleep 0.1; done
mountpoint -q "$mnt" || { echo "demo: mount did not come up" >&2; exit 1; }
ls -l "$mnt" "$mnt/ranges"

echo; echo "== checks"
echo "-- memory.lime: the first header (magic EMiL, version 1, start 0x1000, inclusive end 0x9fbff)"
od -A x -t x1 -N 32 "$mnt/memory.lime"
echo "-- padded.raw: file offset = physical address; the word at 4 GiB holds 0x100000000 xor 0x5a5a"
od -A x -t x8 -j $((0x100000000)) -N 16 "$mnt/padded.raw"
if command -v readelf >/dev/null; then
  echo "-- readelf: memory.elf program headers and the kernel's VMCOREINFO note harvested from RAM"
  readelf -l -W "$mnt/memory.elf" | sed -n '/Program Headers/,/^$/p'
  readelf -n "$mnt/memory.elf" | grep -E '^ +(Owner|CORE|VMCOREINFO)' | cut -c1-90
fi
if command -v crash >/dev/null; then
  echo "-- crash --osrelease on vmcore: $(crash --osrelease "$mnt/vmcore" 2>&1 | tail -1)"
fi
if /usr/bin/python3 -c 'import drgn' 2>/dev/null; then
  echo "-- drgn on vmcore: init_uts_ns read through the kernel's own page tables"
  /usr/bin/python3 - "$mnt/vmcore" <<'PY'
import re, sys, drgn
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
note = open(sys.argv[1], 'rb').read(65536)
field = lambda key: re.search(rb'\n' + re.escape(key) + rb'=(-?[0-9a-f]+)\n', note).group(1)
addr = int(field(b'SYMBOL(init_uts_ns)'), 16) + int(field(b'OFFSET(uts_namespace.name)'))
uts = prog.read(addr, 3 * 65)  # struct new_utsname: sysname, nodename, release: 65 bytes each
print('    sysname=%s release=%s' % (uts[0:65].rstrip(b'\0').decode(), uts[130:195].rstrip(b'\0').decode()))
PY
fi
echo "-- the same bytes without FUSE: memview export writes a sparse file"
out=$(mktemp /tmp/memview-demo-padded.XXXXXX); rm -f "$out"
memview export "$sample/machine.raw" --view padded -o "$out"
echo "   padded.raw: $(stat -c %s "$out") bytes, $(du -k "$out" | cut -f1) KiB on disk"
cmp --ignore-initial=0x100000000 -n $((2 << 20)) "$out" "$mnt/padded.raw" && cmp -n $((10 << 20)) "$out" "$mnt/padded.raw" && echo "   export == mount (RAM below 10 MiB and above 4 GiB compared)"
rm -f "$out"

echo; echo "== unmount"
memview umount "$mnt"
wait
echo "demo: OK"
