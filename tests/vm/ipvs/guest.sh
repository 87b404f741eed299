#!/bin/sh
# Runs inside the VM lab (see tools/vm/run.sh): the IPVS suite, then every XDP BPF test
# binary the build has, so that the XDP program is exercised on this (6.1) kernel too.
build=${XLB_BINARY_DIR:?}
src=$(cd "$(dirname "$0")/../../.." && pwd)
export XLB_SOURCE_DIR="$src" XLB_BINARY_DIR="$build"
rc=0
up() { cut -d' ' -f1 /proc/uptime; }

t0=$(up)
guest="$build/tests/vm/ipvs/xlb_vm_ipvs_guest"
if [ -x "$guest" ]; then
  "$guest" --gtest_color=no || rc=1
  echo "xlb-vm: ipvs suite: $([ $rc = 0 ] && echo PASS || echo FAIL) ($t0s -> $(up)s uptime)"
else
  echo "xlb-vm: ipvs suite: FAIL ($guest not built)"
  rc=1
fi

[ -x "$src/tools/lab/bpffs.sh" ] && "$src/tools/lab/bpffs.sh" >/dev/null 2>&1
ran=""
for t in $(find "$build/tests/bpf" -mindepth 2 -maxdepth 2 -type f -perm -u+x 2>/dev/null | sort); do
  t1=$(up)
  if "$t" --gtest_color=no; then r=PASS; else r=FAIL; rc=1; fi
  echo "xlb-vm: bpf $(basename "$t"): $r ($t1s -> $(up)s uptime)"
  ran="$ran $(basename "$t")=$r"
done
echo "xlb-vm: bpf binaries on $(uname -r):${ran:- none found in $build/tests/bpf}"
exit $rc
