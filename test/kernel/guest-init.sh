#!/bin/busybox sh
# The guest's /init (busybox initramfs). Loads the modules, saves the guest's own /proc/iomem and
# dmesg, streams LiME acquisitions over TCP, runs memview on live /proc/kcore from the host's root
# (shared read-only over 9p), then lets the host take QEMU's own dumps and powers off.
# Lines starting with "@@ " on the console are the protocol with the host (test/kernel/guest.ts).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.load); do insmod "/modules/$m.ko" || echo "@@ fail insmod $m"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 host /host || echo "@@ fail mount host"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /out || echo "@@ fail mount out"
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^memview\.$1=//p"; }

cat /proc/iomem > /out/iomem.txt
dmesg > /out/dmesg.txt
uname -r > /out/uname-r.txt
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0

# The host acts on "@@ step NAME" and answers by creating /out/done-NAME.
step() {
  echo "@@ step $1"
  while [ ! -e "/out/done-$1" ]; do sleep 0.2; done
}

# LiME's module init does the whole acquisition: it listens, the host connects, EOF ends it.
for name in $(arg lime | tr ',' ' '); do
  case $name in
    lime) set -- format=lime ;;
    raw) set -- format=raw ;;
    padded) set -- format=padded ;;
    lime-z) set -- format=lime compress=1 ;;
  esac
  echo "@@ lime $name"
  if insmod /lime.ko path=tcp:4444 "$@"; then echo "@@ lime-done $name"; else echo "@@ fail lime $name"; fi
  rmmod lime
done

# memview inside the guest: node and the built project from the host's root, chrooted.
node=$(arg node)
project=$(arg project)
if [ -n "$node" ] && [ -n "$project" ]; then
  mount -t proc proc /host/proc
  mount -t sysfs sys /host/sys
  mount -t devtmpfs dev /host/dev
  # A writable /tmp over the host's; a project that lives under the host's /tmp (a CI clone) stays visible.
  case "$project" in /tmp/*) mkdir -p /hosttmp && mount --bind /host/tmp /hosttmp ;; esac
  mount -t tmpfs tmp /host/tmp
  case "$project" in /tmp/*) mkdir -p "/host$project" && mount --bind "/hosttmp${project#/tmp}" "/host$project" ;; esac
  mkdir -p /host/tmp/out
  mount --bind /out /host/tmp/out
  echo "@@ memview start"
  if chroot /host /bin/sh "$project/test/kernel/guest-memview.sh" "$node" "$project" /tmp/out > /out/memview.log 2>&1; then
    echo "@@ memview-done"
  else
    echo "@@ fail memview (see memview.log)"
  fi
  case "$project" in /tmp/*) umount "/host$project" ;; esac
  umount /host/tmp/out /host/tmp /host/dev /host/sys /host/proc
  case "$project" in /tmp/*) umount /hosttmp ;; esac
fi

cat /proc/iomem > /out/iomem-end.txt
dmesg > /out/dmesg-end.txt
sync
step qemu-dump
echo "@@ poweroff"
umount /out
poweroff -f
