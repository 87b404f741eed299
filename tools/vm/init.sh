#!/bin/sh
# /init of the VM lab: load modules, mount the host's root read-only over 9p, chroot into
# it with writable tmpfs where programs expect them, run xlb.cmd, report, power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1

say() { echo "xlb-vm: $*"; }
# A real machine has a host name; programs derive defaults from it (mail From, router_id).
hostname xlb-vm
for m in $(cat /modules.order); do
  insmod "/modules/$m.ko" || say "insmod $m failed"
done

cmd=""
arg=""
build=""
for w in $(cat /proc/cmdline); do
  case "$w" in
    xlb.cmd=*) cmd=${w#xlb.cmd=} ;;
    xlb.arg=*) arg=${w#xlb.arg=} ;;
    xlb.build=*) build=${w#xlb.build=} ;;
  esac
done

rc=1
if mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose host /mnt; then
  mount -t proc proc /mnt/proc
  mount -t sysfs sys /mnt/sys
  mount -t devtmpfs dev /mnt/dev
  mount -t bpf bpf /mnt/sys/fs/bpf 2>/dev/null || say "no bpffs"
  for d in /tmp /run /var/run /root; do
    [ -d "/mnt$d" ] && [ ! -L "/mnt$d" ] || continue
    # A checkout or build under one of these (CI clones into /tmp) must stay visible through
    # the tmpfs: hold it aside with a bind mount and put it back on top.
    held=""
    for p in "$cmd" "$build"; do
      case "$p" in "$d"/*) top=${p#"$d"/}; held="$held ${top%%/*}" ;; esac
    done
    for top in $held; do
      mkdir -p "/held$d/$top" && mount -o bind "/mnt$d/$top" "/held$d/$top"
    done
    mount -t tmpfs tmpfs "/mnt$d"
    for top in $held; do
      mkdir -p "/mnt$d/$top" && mount -o bind "/held$d/$top" "/mnt$d/$top"
    done
  done
  say "booted $(uname -r) in $(cut -d' ' -f1 /proc/uptime)s"
  HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin XLB_BINARY_DIR="$build" \
    chroot /mnt "$cmd" $arg
  rc=$?
else
  say "cannot mount the host over 9p"
fi
say "uptime $(cut -d' ' -f1 /proc/uptime)s"
echo "XLB-VM-RESULT rc=$rc"
sync
poweroff -f
