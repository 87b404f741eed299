#!/bin/sh
# Boots Debian's 6.1 kernel under qemu (TCG) with the host's root shared read-only and
# runs one command inside (as root, chrooted into the host's files).
# usage: run.sh BUILD_DIR COMMAND [ARG]  (COMMAND: a path visible on the host; COMMAND and
# ARG without spaces; ARG is passed to COMMAND and names the serial log)
# Exit: the command's exit status; 77 when qemu or the kernel cannot be obtained.
set -eu
build=$(cd "$1" && pwd)
cmd=$2
arg=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
timeout_s=${XLB_VM_TIMEOUT:-560}

command -v qemu-system-x86_64 >/dev/null 2>&1 || {
  echo "vm: SKIP: qemu-system-x86_64 not installed (apt-get install qemu-system-x86)" >&2; exit 77; }
command -v cpio >/dev/null 2>&1 || { echo "vm: SKIP: cpio not installed" >&2; exit 77; }
kroot=$("$here/kernel.sh") || exit $?
vmlinuz=$(ls "$kroot"/boot/vmlinuz-* | head -n1)

out="$build/vm"
mkdir -p "$out"
initrd="$out/initrd.cpio.gz"
# Resolving module dependencies takes a while; rebuild only when the recipe or kernel changed.
if [ ! -s "$initrd" ] || [ "$here/mkinitramfs.sh" -nt "$initrd" ] || [ "$here/init.sh" -nt "$initrd" ] ||
   [ "$kroot/.unpacked" -nt "$initrd" ]; then
  "$here/mkinitramfs.sh" "$kroot" "$initrd.$$" || exit $?
  mv "$initrd.$$" "$initrd"
fi
log="$out/serial${arg:+-$arg}.log"

start=$(date +%s)
# -no-reboot with panic=-1: a guest crash ends qemu at once instead of hanging the test.
# nice: `make check` runs a namespace lab beside the VM, and the lab's timers come first.
nice -n 10 timeout --foreground -k 5 "$timeout_s" qemu-system-x86_64 -accel tcg -m 1024 -nographic \
  -no-reboot -kernel "$vmlinuz" -initrd "$initrd" \
  -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
  -append "console=ttyS0 quiet panic=-1 xlb.cmd=$cmd xlb.arg=$arg xlb.build=$build" </dev/null >"$log" 2>&1 || true
end=$(date +%s)
tr -d '\r' <"$log"
echo "vm: wall time $((end - start))s (boot + test), serial log in $log"
rc=$(tr -d '\r' <"$log" | sed -n 's/^XLB-VM-RESULT rc=\([0-9]*\)$/\1/p' | tail -n1)
[ -n "$rc" ] || { echo "vm: no result line from the guest (timeout ${timeout_s}s or crash)"; exit 1; }
exit "$rc"
