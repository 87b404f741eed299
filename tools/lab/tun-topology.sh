#!/usr/bin/env bash
# The lb_kind TUN lab, in namespaces named with a per-run suffix:
#   front switch (br0, 198.18.0.0/24): client .10, lb .2, router .1
#   back switch (br1, 198.18.3.0/24):  router .1, rs1 .11, rs2 .12 (default route: router)
#   IPv6 beside it: front 2001:db8::/64 (client ::10, lb ::2, router ::1), back 2001:db8:3::/64
#   (router ::1, rs1 ::11, rs2 ::12).
#   VIPs 198.18.0.100 and 2001:db8::100 on lb's eth0; the reals are in another subnet, behind the
#   router, and take the tunnel apart with xlb-realserver (VIPs on lo), or, with REALSERVER_BIN
#   `native`, with the kernel's own ipip (tunl0), ip6_tunnel (ip6tnl0), ip_gre (gre0) and fou
#   (GUE on port 6080, both families) modules, as docs/tunnel.md tells Linux reals to (the VM lab:
#   this machine's kernel has none of them). rs1/rs2 answer HTTP on port 80 with their names, serve
#   /big (1 MiB), and count uploaded bytes on ports 8080-8082, over both families. MTU 1500
#   everywhere, so a full-size packet from the client only fits once the balancer's ICMP (or
#   ICMPv6 packet too big) has lowered its MSS.
# usage: tun-topology.sh up SUFFIX PASS_OBJ REALSERVER_BIN|native | down SUFFIX | env SUFFIX
#        tun-topology.sh xlbd SUFFIX BUILD_DIR CONF NAME [XLBD_ARGS...]   xlbd in lb (netns-lib.sh's
#                        lab_xlbd: socket $LAB_STATE/NAME.sock, pins $LAB_BPFFS/NAME)
#        tun-topology.sh xlbd-kill SUFFIX NAME [SIG]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/netns-lib.sh"

cmd=${1:?usage: tun-topology.sh up|down|env|xlbd|xlbd-kill SUFFIX ...}
S=${2:?suffix required}
[[ $S =~ ^[A-Za-z0-9]{1,8}$ ]] || { echo "suffix must be 1-8 letters/digits" >&2; exit 2; }

SW=xlb-tsw-$S CL=xlb-tcl-$S LB=xlb-tlb-$S RT=xlb-trt-$S RS1=xlb-trs1-$S RS2=xlb-trs2-$S
STATE=/run/xlb-tlab-$S
VIP=198.18.0.100 CL_IP=198.18.0.10 LB_IP=198.18.0.2 RT_IP=198.18.0.1 RT_BACK=198.18.3.1
RS1_IP=198.18.3.11 RS2_IP=198.18.3.12
VIP6=2001:db8::100 CL_IP6=2001:db8::10 LB_IP6=2001:db8::2 RT_IP6=2001:db8::1 RT_BACK6=2001:db8:3::1
RS1_IP6=2001:db8:3::11 RS2_IP6=2001:db8:3::12

print_env() {
  cat <<EOT
LAB_CLIENT=$CL LAB_LB=$LB LAB_ROUTER=$RT LAB_RS1=$RS1 LAB_RS2=$RS2 LAB_STATE=$STATE LAB_BPFFS=$STATE/bpf
LAB_VIP=$VIP LAB_CLIENT_IP=$CL_IP LAB_LB_IP=$LB_IP LAB_RS1_IP=$RS1_IP LAB_RS2_IP=$RS2_IP
LAB_VIP6=$VIP6 LAB_CLIENT_IP6=$CL_IP6 LAB_LB_IP6=$LB_IP6 LAB_RS1_IP6=$RS1_IP6 LAB_RS2_IP6=$RS2_IP6
EOT
}

down() {
  for pidfile in "$STATE"/*.pid; do
    [ -e "$pidfile" ] || continue
    stop_pid "$pidfile"
  done
  # xlb-realserver keeps a state file per interface and namespace under /run: undo its `up`
  # before the namespaces go, or the files outlive them.
  if [ -s "$STATE/realserver-bin" ]; then
    for ns in "$RS1" "$RS2"; do
      ip netns exec "$ns" "$(cat "$STATE/realserver-bin")" down --dev eth0 --vip "$VIP" --vip "$VIP6" \
        >/dev/null 2>&1 || true
    done
  fi
  for ns in "$CL" "$LB" "$RT" "$RS1" "$RS2" "$SW"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  if mountpoint -q "$STATE/bpf" 2>/dev/null; then umount -l "$STATE/bpf"; fi
  rm -rf "$STATE"
}

# plug NS IFNAME BRIDGE SWPORT IP/LEN IP6/LEN (no duplicate address detection: usable at once)
plug() {
  local ns=$1 ifname=$2 br=$3 port=$4 addr=$5 addr6=$6
  ip link add "$ifname" netns "$ns" type veth peer name "$port" netns "$SW"
  ip -n "$SW" link set "$port" master "$br" up
  ip -n "$ns" addr add "$addr" dev "$ifname"
  ip -n "$ns" addr add "$addr6" dev "$ifname" nodad
  ip -n "$ns" link set "$ifname" up
}

# native_decap NS: docs/tunnel.md's Linux real. The inner packet comes in on a tunnel device from
# a client whose route leaves by eth0, so reverse-path filtering must be off for the tunnel
# devices (and "all").
native_decap() {
  local ns=$1 c
  ip -n "$ns" link set tunl0 up
  # ip6_tunnel's ip6tnl0 takes only IPv6 in IPv6 until its mode says any (IPv4 in IPv6 too).
  ip -n "$ns" -6 tunnel change ip6tnl0 mode any
  ip -n "$ns" link set ip6tnl0 up
  ip -n "$ns" link set gre0 up  # ip_gre: plain GRE, as IPVS's `type gre` sends it
  ip -n "$ns" fou add port 6080 gue
  ip -n "$ns" fou add port 6080 gue -6
  ip -n "$ns" addr add "$VIP/32" dev lo
  ip -n "$ns" addr add "$VIP6/128" dev lo nodad
  for c in all eth0 tunl0 ip6tnl0 gre0; do
    ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$c.rp_filter=0" \
      "net.ipv4.conf.$c.arp_ignore=1" "net.ipv4.conf.$c.arp_announce=2"
  done
}

real_server() {
  local ns=$1 addr=$2 addr6=$3 name=$4 bin=$5
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  plug "$ns" eth0 br1 "${name}$S" "$addr/24" "$addr6/64"
  ip -n "$ns" route add default via "$RT_BACK"
  ip -n "$ns" -6 route add default via "$RT_BACK6"
  if [ "$bin" = native ]; then
    native_decap "$ns"
  else
    echo "$bin" >"$STATE/realserver-bin"
    ip netns exec "$ns" "$bin" up --dev eth0 --vip "$VIP" --vip "$VIP6" --gue-port 6080 >/dev/null
  fi
  lab_web_root "$name"
  head -c 1048576 /dev/zero | tr '\0' 'x' >"$STATE/www-$name/big"
  lab_http_start "$ns" "$name" "$STATE/http-$name.pid" ::
  # Ports 8080-8082, both families: reads a whole upload and answers with its byte count (one
  # process: under emulation each Python start costs seconds).
  ip netns exec "$ns" python3 -c '
import socket, sys, threading
def serve(port):
    s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(("::", port)); s.listen(8)
    while True:
        c, _ = s.accept(); n = 0
        while True:
            b = c.recv(65536)
            if not b: break
            n += len(b)
        c.sendall(str(n).encode()); c.close()
for p in sys.argv[1:]: threading.Thread(target=serve, args=(int(p),)).start()
' 8080 8081 8082 >>"$STATE/upload-$name.log" 2>&1 &
  echo $! >"$STATE/upload-$name.pid"
}

up() {
  local pass_obj=${1:?PASS_OBJ required} bin=${2:?REALSERVER_BIN required}
  [ -f "$pass_obj" ] || { echo "no pass program at $pass_obj (build first)" >&2; return 1; }
  mkdir -p "$STATE/bpf"
  mount -t bpf bpf "$STATE/bpf"
  ip netns add "$SW"
  ip -n "$SW" link set lo up
  for br in br0 br1; do
    ip -n "$SW" link add "$br" type bridge
    ip -n "$SW" link set "$br" up
  done
  for ns in "$CL" "$LB" "$RT"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
  done
  plug "$CL" eth0 br0 "c$S" "$CL_IP/24" "$CL_IP6/64"
  plug "$LB" eth0 br0 "l$S" "$LB_IP/24" "$LB_IP6/64"
  plug "$RT" eth0 br0 "r$S" "$RT_IP/24" "$RT_IP6/64"
  plug "$RT" eth1 br1 "rb$S" "$RT_BACK/24" "$RT_BACK6/64"
  ip netns exec "$RT" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
    net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.eth1.rp_filter=0 net.ipv6.conf.all.forwarding=1
  ip -n "$CL" route add default via "$RT_IP"
  ip -n "$CL" -6 route add default via "$RT_IP6"
  ip -n "$LB" route add 198.18.3.0/24 via "$RT_IP"
  ip -n "$LB" -6 route add 2001:db8:3::/64 via "$RT_IP6"
  ip -n "$LB" addr add "$VIP/32" dev eth0
  # Deprecated (preferred_lft 0): still the LB's, but never the source the kernel picks towards the
  # reals. As a tunnel's outer source the VIP would be one of the real's own addresses, and
  # ip6_tunnel drops such packets (docs/tunnel.md).
  ip -n "$LB" addr add "$VIP6/128" dev eth0 nodad preferred_lft 0
  # The FIB lookup from XDP answers only where forwarding is on (docs/tunnel.md).
  ip netns exec "$LB" sysctl -qw net.ipv4.conf.eth0.forwarding=1 net.ipv6.conf.eth0.forwarding=1
  ip -n "$SW" link set dev "l$S" xdpdrv obj "$pass_obj" sec xdp
  ip netns exec "$CL" ethtool -K eth0 tx off >/dev/null
  real_server "$RS1" "$RS1_IP" "$RS1_IP6" rs1 "$bin"
  real_server "$RS2" "$RS2_IP" "$RS2_IP6" rs2 "$bin"
  lab_http_wait "$RS1" rs1 ::
  lab_http_wait "$RS2" rs2 ::
}

case $cmd in
  up)
    set -E
    trap 'down' ERR
    up "${3:-}" "${4:-}"
    print_env
    ;;
  down) down ;;
  env) print_env ;;
  xlbd) lab_xlbd "$LB" "${3:?BUILD_DIR}" "${4:?CONF}" "${5:?NAME}" "${@:6}" ;;
  xlbd-kill) lab_xlbd_kill "${3:?NAME}" "${4:-KILL}" ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
