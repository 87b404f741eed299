#!/usr/bin/env bash
# Prepares veth interfaces of your own namespace lab for xlb in DR mode. Two veth quirks make a
# DR lab fail silently (README, "Your own veth lab"):
#  - a frame that XDP sends out of a veth (XDP_TX, redirect) is dropped unless the veth's PEER
#    has an XDP program attached; a program that passes everything is enough;
#  - a sender on veth leaves TCP checksums for the "NIC" to fill in (TX checksum offload); XDP_TX
#    forwards the frame as it is, so the real server receives a bad checksum and drops the SYN.
set -euo pipefail

usage() {
  cat <<'EOT'
usage: veth-peer.sh lb     NS IF [-o PASS_OBJ]   IF is where xlbd attaches (its XDP_TX interface):
                                                 attaches an XDP_PASS program to IF's veth peer
                                                 (found whichever namespace it is in) and turns
                                                 TX checksum offload off on IF
       veth-peer.sh client NS IF                 a traffic source: TX checksum offload off on IF
       veth-peer.sh undo   NS IF                 detaches XDP from IF's peer, offload back on
       veth-peer.sh show   NS IF                 one line: peer, its XDP program, IF's offload
NS is a namespace name (ip netns), or - for the current one. PASS_OBJ defaults to
build/bpf/pass.bpf.o in this source tree (`make demo` or `cmake --build build --target
xlb_demo_programs` builds it); any object with an XDP program in section "xdp" that returns
XDP_PASS does.
EOT
}

here=$(cd "$(dirname "$0")" && pwd)
pass_obj=$here/../../build/bpf/pass.bpf.o

die() { echo "veth-peer: $*" >&2; exit 1; }
# in_ns NS CMD...: CMD in namespace NS ("-": here).
in_ns() {
  local ns=$1; shift
  if [ "$ns" = - ]; then "$@"; else ip netns exec "$ns" "$@"; fi
}
ipn() {
  local ns=$1; shift
  if [ "$ns" = - ]; then ip "$@"; else ip -n "$ns" "$@"; fi
}

# peer NS IF: prints "PEER_NS PEER_IF" of the veth IF in NS.
peer() {
  local ns=$1 ifname=$2 info idx nsid peer_ns name
  info=$(ipn "$ns" -d -j link show dev "$ifname" 2>/dev/null) || die "no interface $ifname in namespace $ns"
  # ip names a peer in the same namespace ("link") and gives only the index of one elsewhere.
  read -r kind idx nsid name < <(python3 -c '
import json, sys
d = json.load(sys.stdin)[0]
print(d.get("linkinfo", {}).get("info_kind", "-"), d.get("link_index", "-"), d.get("link_netnsid", "-"), d.get("link") or "-")' <<<"$info")
  [ "$kind" = veth ] || die "$ifname in namespace $ns is not a veth (kind: $kind)"
  if [ "$nsid" = - ] && [ "$name" != - ]; then
    echo "$ns $name"
    return 0
  elif [ "$nsid" = - ]; then
    peer_ns=$ns
  else
    # The id is NS's own name for the peer's namespace; unnamed there means the initial one.
    peer_ns=$(ipn "$ns" netns list-id | sed -n "s/^nsid $nsid (iproute2 netns name: \(.*\))\$/\1/p")
    peer_ns=${peer_ns:--}
  fi
  name=$(ipn "$peer_ns" -j link show 2>/dev/null |
    python3 -c 'import json, sys; print(next((l["ifname"] for l in json.load(sys.stdin) if l["ifindex"] == int(sys.argv[1])), ""))' "$idx")
  [ -n "$name" ] || die "cannot find the peer of $ifname (ifindex $idx, namespace id $nsid) from namespace $ns"
  echo "$peer_ns $name"
}

tx_off() {
  in_ns "$1" ethtool -K "$2" tx off >/dev/null || die "ethtool -K $2 tx off failed in namespace $1"
}

cmd=${1:-}
case $cmd in
  -h | --help | help) usage; exit 0 ;;
  lb | client | undo | show) ;;
  *) usage >&2; exit 2 ;;
esac
[ $# -ge 3 ] || { usage >&2; exit 2; }
ns=$2 ifname=$3
shift 3
while [ $# -gt 0 ]; do
  case $1 in
    -o) pass_obj=${2:?-o needs a file}; shift 2 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[ "$ns" = - ] || ip netns list | grep -qw -- "$ns" || die "no namespace $ns"

case $cmd in
  lb)
    [ -f "$pass_obj" ] || die "no $pass_obj: build it (cmake --build build --target xlb_demo_programs) or give -o"
    read -r pns pif < <(peer "$ns" "$ifname")
    # Native mode, as the lab scripts use and test: veth takes XDP_TX frames into a peer whose
    # receive side runs native XDP.
    ipn "$pns" link set dev "$pif" xdpdrv obj "$pass_obj" sec xdp ||
      die "attaching $pass_obj to $pif (namespace $pns) failed"
    tx_off "$ns" "$ifname"
    echo "$ns/$ifname: XDP_PASS on peer $pns/$pif, tx checksum offload off"
    ;;
  client)
    tx_off "$ns" "$ifname"
    echo "$ns/$ifname: tx checksum offload off"
    ;;
  undo)
    read -r pns pif < <(peer "$ns" "$ifname")
    ipn "$pns" link set dev "$pif" xdp off
    in_ns "$ns" ethtool -K "$ifname" tx on >/dev/null
    echo "$ns/$ifname: XDP detached from peer $pns/$pif, tx checksum offload on"
    ;;
  show)
    read -r pns pif < <(peer "$ns" "$ifname")
    prog=$(ipn "$pns" -j link show dev "$pif" | python3 -c '
import json, sys
x = json.load(sys.stdin)[0].get("xdp")
print("none" if not x else "{} id {}".format({1: "xdpdrv", 2: "xdpgeneric", 3: "xdpoffload"}.get(x.get("mode"), x.get("mode")), x.get("prog", {}).get("id", "?")))')
    tx=$(in_ns "$ns" ethtool -k "$ifname" | sed -n 's/^tx-checksumming: \([a-z]*\).*/\1/p')
    echo "peer $pns/$pif xdp $prog tx-checksumming $tx"
    ;;
esac
