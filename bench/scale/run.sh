#!/usr/bin/env bash
# bench/scale/run.sh BUILD_DIR: table scale of the XDP balancer. Three scenarios (1M flows,
# 10,000 VIPs x 16 reals, 1,000 reals on one VIP), each through XdpBackend with maps sized
# for it and through xlbd with the configuration's xdp_* table sizes; plus ns/packet with a full
# connection table vs a 1-flow table. Prints a table and writes bench/results/scale.json.
# Root: namespaces, XDP, a private bpffs. SCALE_QUICK=1: tiny sizes (a smoke run, seconds).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
out=${SCALE_JSON:-$repo/bench/results/scale.json}
bin=$build/bench/scale/xlb-bench-scale
S=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
NS_LB=xlb-bscl-$S NS_RS=xlb-bscr-$S STATE=/run/xlb-bench-scale-$S

cleanup() {
  ip netns del "$NS_LB" 2>/dev/null || true
  ip netns del "$NS_RS" 2>/dev/null || true
  if mountpoint -q "$STATE/bpf" 2>/dev/null; then umount -l "$STATE/bpf"; fi
  rm -rf "$STATE"
}
trap cleanup EXIT

if [ "${SCALE_QUICK:-0}" = 1 ]; then
  FLOWS=65536 VIPS=300 RPV=16 REALS=100 XLBD_VIPS=20 ROUNDS=1 REPEAT=100000 DISTINCT=2000 PROUNDS=2
else
  FLOWS=1000000 VIPS=10000 RPV=16 REALS=1000 XLBD_VIPS=255 ROUNDS=3 REPEAT=1000000 DISTINCT=10000 PROUNDS=5
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# The LB namespace's eth0 faces a "real servers" namespace that holds every real address, so
# that ARP resolves them as on a LAN. 198.18.0.0/16 on both ends.
mkdir -p "$STATE/bpf"
mount -t bpf bpf "$STATE/bpf"
ip netns add "$NS_LB"
ip netns add "$NS_RS"
ip link add eth0 netns "$NS_LB" type veth peer name eth0 netns "$NS_RS"
ip -n "$NS_LB" addr add 198.18.0.2/16 dev eth0
{
  for j in $(seq 0 15); do echo "addr add 198.18.0.$((11 + j))/16 dev eth0"; done
  for j in $(seq 0 $((REALS - 1))); do echo "addr add 198.18.$((8 + j / 250)).$((j % 250 + 1))/16 dev eth0"; done
} | ip -n "$NS_RS" -batch -
for ns in "$NS_LB" "$NS_RS"; do ip -n "$ns" link set eth0 up; ip -n "$ns" link set lo up; done
ip -n "$NS_RS" link set dev eth0 xdpdrv obj "$build/bpf/pass.bpf.o" sec xdp
in_lb() { ip netns exec "$NS_LB" env LIBXDP_BPFFS="$STATE/bpf" "$@"; }

echo "== ns/packet, 1-flow vs full connection table ($FLOWS entries)"
"$bin" --json "$STATE/packet.json" packet --flows "$([ "$FLOWS" = 1000000 ] && echo 1048576 || echo "$FLOWS")" \
  --repeat "$REPEAT" --distinct "$DISTINCT" --rounds "$PROUNDS"

for sc in flows vips reals; do
  echo "== XdpBackend: $sc"
  mkdir -p "$STATE/bpf/tables-$sc"
  in_lb "$bin" --json "$STATE/tables-$sc.json" tables --scenario "$sc" --pin-dir "$STATE/bpf/tables-$sc" \
    --flows "$FLOWS" --vips "$VIPS" --reals-per-vip "$RPV" --reals "$REALS"
done

xlbd_case() {  # name scenario rounds extra-args...
  local name=$1 sc=$2 rounds=$3
  shift 3
  echo "== xlbd: $name"
  mkdir -p "$STATE/bpf/xlbd-$name" "$STATE/xlbd-$name"
  in_lb "$bin" --json "$STATE/xlbd-$name.json" xlbd --scenario "$sc" --xlbd "$build/ctrl/xlbd" \
    --xlbctl "$build/tools/xlbctl/xlbctl" \
    --workdir "$STATE/xlbd-$name" --pin-dir "$STATE/bpf/xlbd-$name" --rounds "$rounds" "$@"
}
xlbd_case reals reals "$ROUNDS" --reals "$REALS"
xlbd_case vips-fit vips "$ROUNDS" --vips "$XLBD_VIPS" --reals-per-vip "$RPV"
xlbd_case vips-full vips 1 --vips "$VIPS" --reals-per-vip "$RPV"
xlbd_case flows flows "$ROUNDS" --flows "$FLOWS"

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
commit=${BENCH_COMMIT:-$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)}
python3 "$here/report.py" "$STATE" "$out" "$commit" "$load_before" "$load_after"
