#!/usr/bin/env bash
# The DR lab of lab.md, in namespaces named with a per-run suffix:
#   switch (bridge br0) <- client, lb, rs1, rs2, each with eth0 on 198.18.0.0/24.
#   VIP 198.18.0.100: on lb's eth0 (it answers ARP, as a VRRP master would) and on the real
#   servers' lo (arp_ignore=1, arp_announce=2). rs1/rs2 run an HTTP server on port 80 that
#   answers with its own name. The balancer is not loaded here: the caller does that.
#
# usage: dr-topology.sh up SUFFIX PASS_OBJ   (PASS_OBJ: build/bpf/pass.bpf.o)
#        dr-topology.sh down SUFFIX
#        dr-topology.sh env SUFFIX           (prints the names as shell variables)
# State (pids, web roots, a bpffs for pins) lives in /run/xlb-lab-SUFFIX.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/netns-lib.sh"

cmd=${1:?usage: dr-topology.sh up|down|env SUFFIX [PASS_OBJ]}
S=${2:?suffix required}
[[ $S =~ ^[A-Za-z0-9]{1,8}$ ]] || { echo "suffix must be 1-8 letters/digits" >&2; exit 2; }

SW=xlb-sw-$S CL=xlb-cl-$S LB=xlb-lb-$S RS1=xlb-rs1-$S RS2=xlb-rs2-$S
STATE=/run/xlb-lab-$S
VIP=198.18.0.100 CL_IP=198.18.0.10 LB_IP=198.18.0.2 RS1_IP=198.18.0.11 RS2_IP=198.18.0.12

print_env() {
  cat <<EOT
LAB_SW=$SW LAB_CLIENT=$CL LAB_LB=$LB LAB_RS1=$RS1 LAB_RS2=$RS2
LAB_STATE=$STATE LAB_BPFFS=$STATE/bpf
LAB_VIP=$VIP LAB_CLIENT_IP=$CL_IP LAB_LB_IP=$LB_IP LAB_RS1_IP=$RS1_IP LAB_RS2_IP=$RS2_IP
EOT
}

down() {
  for pidfile in "$STATE"/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
  for ns in "$CL" "$LB" "$RS1" "$RS2" "$SW"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  if mountpoint -q "$STATE/bpf" 2>/dev/null; then umount -l "$STATE/bpf"; fi
  rm -rf "$STATE"
}

host() { lab_host "$@"; }

real_server() {
  local ns=$1 ip=$2 name=$3
  host "$ns" "$ip" "${name}$S"
  lab_dr_real "$ns" "$name"
  lab_http "$ns" "$name" "$STATE/http-$name.pid"
}


up() {
  local pass_obj=${1:?PASS_OBJ required}
  [ -f "$pass_obj" ] || { echo "no pass program at $pass_obj (build first)" >&2; return 1; }
  mkdir -p "$STATE/bpf"
  mount -t bpf bpf "$STATE/bpf"
  ip netns add "$SW"
  ip -n "$SW" link add br0 type bridge
  ip -n "$SW" link set br0 up
  ip -n "$SW" link set lo up
  host "$CL" "$CL_IP" "c$S"
  host "$LB" "$LB_IP" "l$S"
  ip -n "$LB" addr add "$VIP/32" dev eth0
  # Frames the balancer sends back out of eth0 (XDP_TX) only arrive if the peer runs XDP.
  ip -n "$SW" link set dev "l$S" xdpdrv obj "$pass_obj" sec xdp
  # Checksum offload leaves TCP checksums partial; XDP_TX would send them on broken.
  ip netns exec "$CL" ethtool -K eth0 tx off >/dev/null
  real_server "$RS1" "$RS1_IP" rs1
  real_server "$RS2" "$RS2_IP" rs2
}

case $cmd in
  up)
    # errtrace: a failure inside up() must reach the trap too, or a half-built lab stays.
    set -E
    trap 'down' ERR
    up "${3:-}"
    print_env
    ;;
  down) down ;;
  env) print_env ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
