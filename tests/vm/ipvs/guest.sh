#!/bin/sh
# Runs inside the VM lab (see tools/vm/run.sh) on Debian's 6.1 kernel.
#   guest.sh ipvs  the IPVS suite (IpvsBackend, ipvsadm, DR traffic through namespaces)
#   guest.sh bpf   every XDP BPF test binary the build has (exit 77 when there is none)
build=${XLB_BINARY_DIR:?}
src=$(cd "$(dirname "$0")/../../.." && pwd)
export XLB_SOURCE_DIR="$src" XLB_BINARY_DIR="$build"
up() { cut -d' ' -f1 /proc/uptime; }
cd /tmp || exit 1

case "${1:-}" in
  ipvs)
    guest="$build/tests/vm/ipvs/xlb_vm_ipvs_guest"
    [ -x "$guest" ] || { echo "xlb-vm: ipvs suite: FAIL ($guest not built)"; exit 1; }
    t0=$(up)
    "$guest" --gtest_color=no
    rc=$?
    echo "xlb-vm: ipvs suite on $(uname -r): $([ $rc = 0 ] && echo PASS || echo FAIL) (${t0}s -> $(up)s uptime)"
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
    echo "usage: guest.sh ipvs|bpf" >&2
    exit 2
    ;;
esac
