#!/usr/bin/env bash
# Mounts the sample machine (a raw LiME-style dump + its /proc/iomem), lists and checks the views, unmounts.
set -euo pipefail
cd "$(dirname "$0")/.."
memview() { node bin/memview "$@"; }
sample=fixtures/sample
[ -f "$sample/machine.raw" ] || node dist/scripts/make-sample.js "$sample"
mnt=$(mktemp -d /tmp/memview-demo.XXXXXX)
cleanup() { memview umount "$mnt" 2>/dev/null || true; wait 2>/dev/null || true; rmdir "$mnt" 2>/dev/null || true; }
trap cleanup EXIT

echo "== memview info"
memview info "$sample/machine.raw" --map "$sample/machine.iomem"

echo "== memview mount (in the background)"
memview mount "$sample/machine.raw" "$mnt" --map "$sample/machine.iomem" &
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
mountpoint -q "$mnt" || { echo "demo: mount did not come up" >&2; exit 1; }
ls -l "$mnt"

echo "== checks"
# LiME: the first header names the first RAM range (magic EMiL, version 1, start 0x1000, end 0x9fbff).
od -A x -t x1 -N 32 "$mnt/memory.lime"
# ELF: readelf lists the PT_NOTE and one PT_LOAD per RAM range.
if command -v readelf >/dev/null; then readelf -l "$mnt/memory.elf" | sed -n '/Program Headers/,$p'; fi
# The same bytes without FUSE: 'memview export' writes the view to a (sparse) file.
out=$(mktemp /tmp/memview-demo-padded.XXXXXX); rm -f "$out"
memview export "$sample/machine.raw" --map "$sample/machine.iomem" --view padded -o "$out"
echo "exported padded.raw: $(stat -c %s "$out") bytes, $(du -k "$out" | cut -f1) KiB on disk (holes stay holes)"
# padded.raw: file offset = physical address. Compare the RAM above 4 GiB and the first MiB with the export.
cmp --ignore-initial=0x100000000 -n 1048576 "$out" "$mnt/padded.raw" && echo "padded.raw @ 4 GiB == export"
cmp -n 1048576 "$out" "$mnt/padded.raw" && echo "padded.raw @ 0 == export"
od -A x -t x8 -j $((0x100000000)) -N 16 "$mnt/padded.raw"
rm -f "$out"
echo "== unmount"
memview umount "$mnt"
wait
echo "demo: OK"
