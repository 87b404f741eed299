#!/usr/bin/env bash
# The dataplane demo: a client, one XDP load balancer and two real servers in network
# namespaces; wrr 2:1 and then persistence, with the split printed. Needs root and a build
# (make build). usage: tools/demo.sh [BUILD_DIR]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
demo=$build/ctrl/dataplane/xlb-dp-demo
pass=$build/bpf/pass.bpf.o
for f in "$demo" "$pass"; do
  [ -e "$f" ] || { echo "demo: $f is missing; run 'make build' first" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "demo: needs root (namespaces, XDP)" >&2; exit 1; }

suffix=d$$
suffix=${suffix:0:8}
topo=$here/lab/dr-topology.sh
trap '"$topo" down "$suffix"' EXIT INT TERM

echo "== setting up the lab: switch, client, lb, rs1, rs2 (namespaces xlb-*-$suffix)"
eval "$("$topo" up "$suffix" "$pass")"
echo "   VIP $LAB_VIP on $LAB_LB (eth0, answers ARP) and on the real servers' lo"
echo "   real servers: rs1 $LAB_RS1_IP, rs2 $LAB_RS2_IP (python3 http.server naming itself)"

# libxdp keeps its own state on a bpffs; keep it inside the lab's.
set +e
LIBXDP_BPFFS=$LAB_BPFFS timeout 90 "$demo" --lb-netns "$LAB_LB" --client-netns "$LAB_CLIENT" --vip "$LAB_VIP" \
  --rs1 "$LAB_RS1_IP" --rs2 "$LAB_RS2_IP" --pin-dir "$LAB_BPFFS/xlb" --requests 300
status=$?
echo "== tearing down"
exit $status
