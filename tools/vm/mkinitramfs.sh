#!/bin/sh
# Builds the lab's initramfs: static busybox, the kernel modules the guest needs (with
# their dependencies, in load order) and an /init that shares the host's root over 9p.
# usage: mkinitramfs.sh KERNEL_ROOT OUTPUT.cpio.gz
set -eu
kroot=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
busybox=$(command -v busybox)
ldd "$busybox" 2>&1 | grep -q 'not a dynamic executable' || {
  echo "vm: $busybox is not static (install busybox-static)" >&2; exit 77; }

moddir=$(ls -d "$kroot"/lib/modules/* | head -n1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/bin" "$work/proc" "$work/sys" "$work/dev" "$work/mnt" "$work/modules"
cp "$busybox" "$work/bin/busybox"
ln -s busybox "$work/bin/sh"

# The package has no modules.dep (depmod runs at install time); each module names its
# dependencies in its .modinfo "depends=" line, so the load order is resolved from those.
index="$work/index"
# One awk over the ~4,000 paths: a basename and tr per module took minutes on a loaded machine.
find "$moddir/kernel" -name '*.ko' | awk '{ n = $0; sub(/.*\//, "", n); sub(/\.ko$/, "", n); gsub(/-/, "_", n); print n, $0 }' >"$index"
order="$work/modules.order"
: >"$order"
add_module() {
  local path deps d
  grep -qx "$1" "$order" && return 0
  path=$(awk -v n="$1" '$1 == n { print $2; exit }' "$index")
  [ -n "$path" ] || { echo "vm: module $1 not in $moddir" >&2; exit 1; }
  deps=$(strings "$path" | sed -n 's/^depends=//p' | head -n1 | tr , ' ' | tr - _)
  for d in $deps; do add_module "$d"; done
  grep -qx "$1" "$order" || { echo "$1" >>"$order"; cp "$path" "$work/modules/$1.ko"; }
}
# 9p over virtio-pci to see the host; IPVS with the schedulers xlb maps to; veth and bridge
# for the namespace lab inside the guest; ipip, fou, ip6_tunnel and ip_gre for real servers that
# take lb_kind TUN's tunnels apart natively (fou receives GUE over IPv6 as well; fou6 only sends). crc32c_generic: libcrc32c (under nf_conntrack) names
# it only as a soft dependency (an alias, "softdep=pre: crc32c"), and fails without it.
for m in virtio_pci 9pnet_virtio 9p crc32c_generic \
         ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh ip_vs_mh ip_vs_lc ip_vs_wlc \
         veth bridge ipip fou ip6_tunnel ip_gre; do
  add_module "$m"
done
cp "$here/init.sh" "$work/init"
chmod 755 "$work/init"
(cd "$work" && find . ! -name index | cpio -o -H newc --quiet) | gzip -1 >"$out"
