#!/bin/sh
# Fetches Debian's 6.1 LTS kernel package once and unpacks it into the cache folder.
# Prints the unpacked root (boot/vmlinuz-*, lib/modules/*) on stdout.
# Exit 77 when the package cannot be obtained (no apt, no network, no mirror).
#
# The generic flavour, not -cloud: the cloud kernel is built without 9p (CONFIG_NET_9P is
# not set), and the lab shares the host's root into the guest over 9p.
set -eu
cache=${XLB_VM_CACHE:-/var/cache/xlb-vm}
meta=${XLB_VM_KERNEL_META:-linux-image-amd64}

skip() { echo "vm: SKIP: $*" >&2; exit 77; }

command -v apt-cache >/dev/null 2>&1 || skip "apt-cache not found"
pkg=$(apt-cache depends "$meta" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
[ -n "$pkg" ] || skip "apt-cache does not know $meta (run apt-get update?)"
mkdir -p "$cache" 2>/dev/null || skip "cannot create the cache folder $cache (set XLB_VM_CACHE)"
root="$cache/$pkg"
if [ ! -f "$root/.unpacked" ]; then
  deb=$(ls "$cache"/"${pkg}"_*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    (cd "$cache" && apt-get download "$pkg" >/dev/null 2>&1) || skip "apt-get download $pkg failed"
    deb=$(ls "$cache"/"${pkg}"_*.deb | head -n1)
  fi
  rm -rf "$root"
  mkdir -p "$root"
  dpkg -x "$deb" "$root" || skip "dpkg -x $deb failed"
  touch "$root/.unpacked"
fi
echo "$root"
