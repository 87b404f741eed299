#!/bin/sh
# Runs inside the VM lab (see tools/vm/run.sh) on Debian's 6.1 kernel.
#   guest.sh ipvs  the IPVS suite (IpvsBackend, ipvsadm, DR traffic through namespaces)
#   guest.sh tun   lb_kind TUN: XDP and IPVS TUN to reals decapsulating with native
#                  ipip/ip6_tunnel/ip_gre/fou, both families
#   guest.sh bpf   every XDP BPF test binary the build has (exit 77 when there is none)
build=${XLB_BINARY_DIR:?}
src=$(cd "$(dirname "$0")/../../.." && pwd)
export XLB_SOURCE_DIR="$src" XLB_BINARY_DIR="$build"
up() { cut -d' ' -f1 /proc/uptime; }
cd /tmp || exit 1

case "${1:-}" in
  ipvs|tun)
    guest="$build/tests/vm/ipvs/xlb_vm_ipvs_guest"
    [ -x "$guest" ] || { echo "xlb-vm: $1 suite: FAIL ($guest not built)"; exit 1; }
    filter='-TunVm.*'
    [ "$1" = tun ] && filter='TunVm.*'
    t0=$(up)
    { "$guest" --gtest_color=no --gtest_filter="$filter"; echo $? >/tmp/guest.rc; } 2>&1 | tee /tmp/guest.out
    rc=$(cat /tmp/guest.rc)
    # The TUN suite is one test: skipped (no IPVS: not the VM lab) is a skip. A missing tunnel
    # module fails it: the initramfs loads them.
    [ "$1" = tun ] && [ $rc = 0 ] && grep -q '^\[  SKIPPED \]' /tmp/guest.out && rc=77
    echo "xlb-vm: $1 suite on $(uname -r): $([ $rc = 0 ] && echo PASS || echo FAIL) (${t0}s -> $(up)s uptime)"
    exit $rc
    ;;
  bpf)
    [ -x "$src/tools/lab/bpffs.sh" ] && "$src/tools/lab/bpffs.sh" >/dev/null 2>&1
    rc=0
    ran=""
    for t in $(find "$build/tests/bpf" -mindepth 2 -maxdepth 2 -type f -name 'xlb_bpf_*' -perm -u+x 2>/dev/null | sort); do
      t1=$(up)
      if "$t" --gtest_color=no; then r=PASS; else r=FAIL; rc=1; fi
      echo "xlb-vm: bpf $(basename "$t") on $(uname -r): $r (${t1}s -> $(up)s uptime)"
      ran="$ran $(basename "$t")=$r"
    done
    if [ -z "$ran" ]; then
      echo "xlb-vm: SKIP: no XDP BPF test binaries built in $build/tests/bpf"
      exit 77
    fi
    echo "xlb-vm: bpf binaries on $(uname -r):$ran"
    exit $rc
    ;;
  *)
    echo "usage: guest.sh ipvs|tun|bpf" >&2
    exit 2
    ;;
esac
