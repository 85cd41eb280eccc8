#!/usr/bin/env bash
# Builds what the real-kernel tests boot: Debian's own kernel (linux-image-amd64), the modules the
# guest needs, LiME built against that kernel's headers, and a busybox initramfs with the guest's
# init (test/kernel/guest-init.sh). Nothing is installed on the host: the kernel, headers and LiME
# packages are downloaded with apt-get download and unpacked into the cache.
#
# Cache: $MEMVIEW_KERNEL_CACHE (default ~/.cache/memview-kernel)/build/<kernel>-<version>-lime-<version>,
# built once per kernel and LiME version (the initramfs is rebuilt every run: it holds the init script).
# Prints the build directory as the last line of stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${MEMVIEW_KERNEL_CACHE:-$HOME/.cache/memview-kernel}
log() { echo "kernel-build: $*" >&2; }

# The kernel the metapackage names now (a Debian point release moves it; the cache key follows).
kpkg=$(apt-cache depends --important linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$kpkg" ] || { log "apt-cache knows no linux-image-amd64 (run apt-get update)"; exit 2; }
kver=${kpkg#linux-image-}
pkgver() { apt-cache show --no-all-versions "$1" | awk '/^Version:/ { print $2; exit }'; }
kdebver=$(pkgver "$kpkg")
limever=$(pkgver lime-forensics-dkms)
key="$kver-$kdebver-lime-$limever"
out="$cache/build/$key"

if [ ! -e "$out/ready" ]; then
  log "building $key (once; cached in $out)"
  rm -rf "$out"
  work="$out.tmp"
  rm -rf "$work"
  mkdir -p "$work/debs" "$work/root" "$out.new/modules"
  (cd "$work/debs" && apt-get download -q \
    "$kpkg=$kdebver" "linux-headers-$kver=$kdebver" "linux-headers-${kver%-amd64}-common=$kdebver" \
    "$(apt-cache depends "linux-headers-$kver" | awk '/Depends: linux-kbuild-/ { print $2; exit }')" \
    "lime-forensics-dkms=$limever" >&2)
  for d in "$work"/debs/*.deb; do dpkg-deb -x "$d" "$work/root"; done
  root="$work/root"
  cp "$root/boot/vmlinuz-$kver" "$out.new/vmlinuz"
  cp "$root/boot/System.map-$kver" "$out.new/System.map"
  cp "$root/boot/config-$kver" "$out.new/config"

  # The modules the guest loads, each after the ones it depends on (from the modules' own
  # depends= field: no depmod needed).
  mods="$root/lib/modules/$kver/kernel"
  order=()
  visit() {
    local m=$1 f deps d
    for d in "${order[@]}"; do [ "$d" = "$m" ] && return 0; done
    f=$(find "$mods" -name "$m.ko" -print -quit)
    [ -n "$f" ] || { log "module $m not in $kpkg"; exit 2; }
    deps=$(grep -a -o 'depends=[^[:cntrl:]]*' "$f" | head -n 1 | cut -d= -f2 | tr ',' ' ')
    for d in $deps; do visit "$d"; done
    cp "$f" "$out.new/modules/$m.ko"
    order+=("$m")
  }
  for m in virtio_pci virtio_net 9pnet_virtio 9p fuse qemu_fw_cfg; do visit "$m"; done
  printf '%s\n' "${order[@]}" > "$out.new/modules.load"

  # LiME against the guest kernel's headers, the way dkms would build it (make -C KDIR M=...).
  # Debian's per-flavour header Makefile includes the common tree by absolute path: point it here.
  kdir="$root/usr/src/linux-headers-$kver"
  sed -i "s#^include /usr/src/#include $root/usr/src/#" "$kdir/Makefile"
  lime=$(echo "$root"/usr/src/lime-forensics-*)
  make -s -C "$kdir" M="$lime" modules >&2
  cp "$lime/lime.ko" "$out.new/lime.ko"
  modinfo_ver=$(grep -a -o 'vermagic=[^[:cntrl:]]*' "$out.new/lime.ko" | head -n 1)
  case "$modinfo_ver" in "vermagic=$kver "*) ;; *) log "lime.ko built for the wrong kernel: $modinfo_ver"; exit 2 ;; esac

  cat > "$out.new/versions.json" <<EOF
{ "kernelPackage": "$kpkg", "kernelRelease": "$kver", "kernelVersion": "$kdebver", "lime": "$limever" }
EOF
  rm -rf "$work"
  mv "$out.new" "$out"
  touch "$out/ready"
fi

# The initramfs: busybox, the modules, lime.ko, the init script. Cheap: rebuilt each run.
bb=$(command -v busybox || true)
file -L "$bb" 2>/dev/null | grep -q 'statically linked' || { log "needs busybox-static (apt-get install busybox-static)"; exit 2; }
ir=$(mktemp -d)
trap 'rm -rf "$ir"' EXIT
mkdir -p "$ir/bin" "$ir/proc" "$ir/sys" "$ir/dev" "$ir/host" "$ir/out" "$ir/tmp" "$ir/modules"
cp "$bb" "$ir/bin/busybox"
cp "$out/modules/"*.ko "$ir/modules/"
cp "$out/modules.load" "$ir/modules.load"
cp "$out/lime.ko" "$ir/lime.ko"
install -m 755 "$here/test/kernel/guest-init.sh" "$ir/init"
(cd "$ir" && find . | "$bb" cpio -o -H newc -R 0:0 2>/dev/null | gzip -1) > "$out/initramfs.cpio.gz.new"
mv "$out/initramfs.cpio.gz.new" "$out/initramfs.cpio.gz"
echo "$out"
