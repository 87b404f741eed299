#!/usr/bin/env bash
# usage: veth_peer_test.sh PASS_OBJ
# tools/lab/veth-peer.sh on veth pairs this test creates: the peer found across namespaces and
# within one, its XDP program attached in native mode and detached again, TX checksum offload
# off and on, and a clear refusal for an interface that is not a veth. Checked with ip and
# ethtool directly, not with the command's own `show`.
set -euo pipefail
obj=${1:?PASS_OBJ}
cmd=$(cd "$(dirname "$0")/../../.." && pwd)/tools/lab/veth-peer.sh
[ "$(id -u)" = 0 ] || { echo "veth_peer_test: skipped: needs root (namespaces, XDP)"; exit 77; }
[ -f "$obj" ] || { echo "veth_peer_test: $obj is not built (cmake --build BUILD --target xlb_demo_programs)"; exit 1; }

s=vpt$$
lb=xlb-vplb-$s sw=xlb-vpsw-$s
trap 'ip netns del "$lb" 2>/dev/null || true; ip netns del "$sw" 2>/dev/null || true' EXIT
ip netns add "$lb"
ip netns add "$sw"
ip link add name eth0 netns "$lb" type veth peer name "p$s" netns "$sw"
ip link add name eth1 netns "$lb" type veth peer name eth2 netns "$lb"
for i in eth0 eth1 eth2; do ip -n "$lb" link set "$i" up; done
ip -n "$sw" link set "p$s" up

fail=0
bad() { echo "FAIL: $*"; fail=1; }
xdp_mode() {  # NS IF: xdpdrv / xdpgeneric / none
  ip -n "$1" -j link show dev "$2" | python3 -c '
import json, sys
x = json.load(sys.stdin)[0].get("xdp")
print("none" if not x else {1: "xdpdrv", 2: "xdpgeneric"}.get(x.get("mode"), "other"))'
}
tx() { ip netns exec "$1" ethtool -k "$2" | sed -n 's/^tx-checksumming: \([a-z]*\).*/\1/p'; }

"$cmd" --help | grep -q '^usage: veth-peer.sh lb' || bad "--help prints no usage"

# The balancer's end in one namespace, its peer on the switch in another.
"$cmd" lb "$lb" eth0 -o "$obj" || bad "lb $lb eth0 failed"
[ "$(xdp_mode "$sw" "p$s")" = xdpdrv ] || bad "no native XDP program on the peer $sw/p$s"
[ "$(xdp_mode "$lb" eth0)" = none ] || bad "the command attached XDP to eth0 itself"
[ "$(tx "$lb" eth0)" = off ] || bad "tx checksumming still on on $lb/eth0"
[ "$(tx "$sw" "p$s")" = on ] || bad "the command changed the peer's offload"

# A pair inside one namespace.
"$cmd" lb "$lb" eth1 -o "$obj" >/dev/null || bad "lb $lb eth1 failed"
[ "$(xdp_mode "$lb" eth2)" = xdpdrv ] || bad "no XDP program on eth1's peer eth2 in the same namespace"

"$cmd" client "$sw" "p$s" >/dev/null || bad "client failed"
[ "$(tx "$sw" "p$s")" = off ] || bad "client left tx checksumming on"

"$cmd" undo "$lb" eth0 >/dev/null || bad "undo failed"
[ "$(xdp_mode "$sw" "p$s")" = none ] || bad "undo left the program on $sw/p$s"
[ "$(tx "$lb" eth0)" = on ] || bad "undo left tx checksumming off"

if out=$("$cmd" lb "$lb" lo -o "$obj" 2>&1); then bad "lb on lo succeeded"; fi
grep -q "not a veth" <<<"$out" || bad "lb on lo: unclear message: $out"
if out=$("$cmd" lb "$lb" eth0 -o /nonexistent.o 2>&1); then bad "lb with a missing object succeeded"; fi
grep -q "/nonexistent.o" <<<"$out" || bad "missing object not named: $out"

[ "$fail" = 0 ] && echo "veth_peer_test: ok"
exit "$fail"
