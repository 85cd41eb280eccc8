#!/bin/sh
# Runs inside the guest, chrooted into the host's root: memview on the live /proc/kcore, mounted
# over FUSE in the guest; copies what the host checks into OUT (the host's run directory).
# Usage: guest-memview.sh NODE PROJECT OUT
set -eu
node=$1 project=$2 out=$3
mnt=/tmp/kcore-mnt
mkdir -p "$mnt"
# Ground truth for the kcore parser: what the kernel itself says its /proc/kcore holds.
stat -c %s /proc/kcore > "$out/kcore-size.txt"
readelf -lnW /proc/kcore > "$out/kcore-readelf.txt" 2>&1 || true
"$node" "$project/bin/memview" info /proc/kcore --json > "$out/kcore-info-cli.json"
"$node" "$project/bin/memview" mount /proc/kcore "$mnt" > "$out/memview-mount.log" 2>&1 &
pid=$!
i=0
until grep -q " $mnt fuse" /proc/mounts; do
  sleep 0.5
  i=$((i + 1))
  if [ "$i" -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then echo "mount did not come up"; cat "$out/memview-mount.log"; exit 1; fi
done
ls -l "$mnt" > "$out/kcore-ls.txt"
for f in info.json iomem.txt README.txt raw.bin vmcore; do
  if [ -e "$mnt/$f" ]; then cp "$mnt/$f" "$out/kcore-$f"; else echo "no $f in the mount"; fi
done
"$node" "$project/bin/memview" umount "$mnt"
wait "$pid"
echo "memview ok"
