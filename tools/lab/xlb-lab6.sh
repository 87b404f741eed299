#!/usr/bin/env bash
# An IPv6 DR lab for one xlbd, in network namespaces named with a per-run suffix:
#
#   client 2001:db8:7::10/64 (+ ::11..::15) --+                 +-- rs1   2001:db8:7::21 (weight 2)
#   lb     2001:db8:7::2/64, VIP ::100 ------+-- switch (br0) -+-- rs2   2001:db8:7::22 (weight 1)
#                                                              +-- sorry 2001:db8:7::23 (sorry_server)
#
# VIP 2001:db8:7::100: on the balancer's eth0 (its kernel answers neighbour solicitations for
# it) and on every real's lo. IPv6 needs no arp_ignore: a node answers a solicitation only for
# an address of the interface it arrived on, so the reals stay quiet about a VIP on lo.
# xlbd runs with virtual_server [VIP]:80, wrr, DR, TCP_CHECK; its pin directory is on a bpffs
# mounted outside /sys (see docs/lab.md's notes on `ip netns exec`). Every host also has an
# address in 198.18.7.0/24, and a second virtual_server 198.18.7.100:80 over the same reals
# (VIP4 on the balancer's eth0, on the reals' lo with arp_ignore/arp_announce): both families on
# one node, one XDP program.
#
# usage: xlb-lab6.sh up SUFFIX BUILD_DIR     topology + servers + xlbd
#        xlb-lab6.sh down SUFFIX             removes everything (safe to run any time)
#        xlb-lab6.sh env SUFFIX              names and addresses as shell variables
#        xlb-lab6.sh conf SUFFIX [persist]   (re)writes xlbd's config; persist: persistence_timeout 50
#                                            with persistence_granularity 64
#        xlb-lab6.sh lb-start|lb-stop SUFFIX starts xlbd / stops it (SIGTERM) and waits
#        xlb-lab6.sh rs-stop|rs-start SUFFIX NAME   stops/starts the HTTP server of rs1|rs2|sorry
#        xlb-lab6.sh requests SUFFIX COUNT [SOURCES]  COUNT new connections from the client, from
#                                            the source addresses given (comma-separated, in turn;
#                                            default ::10), to the VIP of each source's family;
#                                            prints "name count"
#        xlb-lab6.sh ctl SUFFIX ARGS...      xlbctl against xlbd
#        xlb-lab6.sh vrrp SUFFIX             VRRP v3 over IPv6 instead of the static VIP: a
#                                            keepalived node (ka, 2001:db8:7::3, priority 90)
#                                            joins, and xlbd restarts with a vrrp_instance
#                                            (priority 100) that holds the VIP
#        xlb-lab6.sh ka-stop SUFFIX          stops keepalived
#        xlb-lab6.sh sync SUFFIX             VRRP (keepalived leaves if `vrrp` ran); a second xlbd (lb2,
#                                            2001:db8:7::4, priority 90) joins, both with
#                                            lvs_sync_daemon eth0 VI_6: flow sync over IPv6
#                                            (multicast ff02::81), key in sync.key
#        xlb-lab6.sh ctl2 SUFFIX ARGS...     xlbctl against lb2's xlbd
# State (config, logs, pid files, socket, the bpffs) lives in /run/xlb-lab6-SUFFIX.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/netns-lib.sh"

cmd=${1:?usage: xlb-lab6.sh up|down|env|conf|lb-start|lb-stop|rs-stop|rs-start|requests|ctl|vrrp|ka-stop SUFFIX ...}
S=${2:?suffix required}
[[ $S =~ ^[A-Za-z0-9]{1,8}$ ]] || { echo "suffix must be 1-8 letters/digits" >&2; exit 2; }

SW=xlb6-sw-$S CL=xlb6-cl-$S LB=xlb6-lb-$S RS1=xlb6-rs1-$S RS2=xlb6-rs2-$S SORRY=xlb6-sry-$S KA=xlb6-ka-$S
LB2=xlb6-lb2-$S
STATE=/run/xlb-lab6-$S
NET=2001:db8:7
VIP=$NET::100 CL_IP=$NET::10 LB_IP=$NET::2 KA_IP=$NET::3 LB2_IP=$NET::4
RS1_IP=$NET::21 RS2_IP=$NET::22 SORRY_IP=$NET::23
# The client's extra addresses, all in the same /64: persistence_granularity 64 must treat them
# as one client.
CL_EXTRA="$NET::11 $NET::12 $NET::13 $NET::14 $NET::15"
NET4=198.18.7
VIP4=$NET4.100
DELAY_LOOP=1 RETRY=1 DELAY_BEFORE_RETRY=1 CONNECT_TIMEOUT=1

print_env() {
  cat <<EOT
LAB_SW=$SW LAB_CLIENT=$CL LAB_LB=$LB LAB_LB2=$LB2 LAB_KA=$KA LAB_RS1=$RS1 LAB_RS2=$RS2 LAB_SORRY=$SORRY
LAB_STATE=$STATE LAB_BPFFS=$STATE/bpf LAB_PIN_DIR=$STATE/bpf/lb LAB_SOCKET=$STATE/lb.sock
LAB_VIP=$VIP LAB_VIP4=$VIP4 LAB_CLIENT_IP=$CL_IP LAB_LB_IP=$LB_IP LAB_LB2_IP=$LB2_IP
LAB_RS1_IP=$RS1_IP LAB_RS2_IP=$RS2_IP LAB_SORRY_IP=$SORRY_IP
EOT
}

rs_ns() {
  case $1 in rs1) echo "$RS1" ;; rs2) echo "$RS2" ;; sorry) echo "$SORRY" ;; *) echo "no real $1" >&2; return 2 ;; esac
}

down() {
  for f in "$STATE"/run-*.pid; do [ -e "$f" ] && stop_pid "$f"; done
  for ns in "$CL" "$LB" "$LB2" "$RS1" "$RS2" "$SORRY" "$KA" "$SW"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  if mountpoint -q "$STATE/bpf" 2>/dev/null; then umount -l "$STATE/bpf"; fi
  rm -rf "$STATE"
}

# host NS ADDRESS SWPORT: a namespace with eth0 on the bridge. nodad: duplicate address
# detection would keep the address tentative (unusable) for a second or more.
host() {
  local ns=$1 ip=$2 port=$3
  ip netns add "$ns"
  ip link add eth0 netns "$ns" type veth peer name "$port" netns "$SW"
  ip -n "$SW" link set "$port" master br0 up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$ip/64" dev eth0 nodad
  ip -n "$ns" addr add "$NET4.${ip##*:}/24" dev eth0
  ip -n "$ns" link set eth0 up
}

# --bind :: serves the VIP (client traffic) and the real's own address (the health check).
rs_start() { lab_http "$(rs_ns "$1")" "$1" "$STATE/run-http-$1.pid" ::; }

real_server() {
  local ns=$1 ip=$2 name=$3 port=$4
  host "$ns" "$ip" "$port"
  ip -n "$ns" addr add "$VIP/128" dev lo nodad
  ip -n "$ns" addr add "$VIP4/32" dev lo
  for c in all eth0; do
    ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$c.arp_ignore=1" "net.ipv4.conf.$c.arp_announce=2"
  done
  # A changed MAC is announced: an unsolicited neighbour advertisement, a gratuitous ARP.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.ndisc_notify=1 net.ipv4.conf.eth0.arp_notify=1
  lab_web_root "$name"
  rs_start "$name"
}

# conf [persist] [PRIORITY OUT]: lb's configuration (priority 100, lb.conf) or another node's.
conf() {
  local persist=${1:-} prio=${2:-100} out=${3:-$STATE/lb.conf} vrrp= sync=
  [ -e "$STATE/vrrp" ] && vrrp=yes
  [ -e "$STATE/sync" ] && sync=yes
  local check="TCP_CHECK {
            connect_timeout $CONNECT_TIMEOUT
            retry $RETRY
            delay_before_retry $DELAY_BEFORE_RETRY
        }"
  cat >"$out.new" <<EOT
! xlb IPv6 lab (generated by tools/lab/xlb-lab6.sh)
global_defs {
   router_id lb6-$prio
$( [ -n "$sync" ] && echo "   lvs_sync_daemon eth0 VI_6" )
}
$( [ -n "$vrrp" ] && vrrp_instance "$prio" )

virtual_server $VIP 80 {
    delay_loop $DELAY_LOOP
    lb_algo wrr
    lb_kind DR
    protocol TCP
$( [ "$persist" = persist ] && printf '    persistence_timeout 50\n    persistence_granularity 64\n' )
    sorry_server $SORRY_IP 80

    real_server $RS1_IP 80 {
        weight 2
        $check
    }
    real_server $RS2_IP 80 {
        weight 1
        $check
    }
}

virtual_server $VIP4 80 {
    delay_loop $DELAY_LOOP
    lb_algo wrr
    lb_kind DR
    protocol TCP
    real_server $NET4.${RS1_IP##*:} 80 {
        weight 2
        $check
    }
    real_server $NET4.${RS2_IP##*:} 80 {
        weight 1
        $check
    }
}
EOT
  mv "$out.new" "$out"
}

# vrrp_instance PRIORITY: the instance both nodes run (keepalived's dialect, VRRP v3, IPv6:
# adverts from the link-local address to ff02::12). A /128 VIP is added deprecated by both.
vrrp_instance() {
  cat <<EOT
vrrp_instance VI_6 {
    state BACKUP
    interface eth0
    virtual_router_id 61
    priority $1
    advert_int 1
    version 3
    virtual_ipaddress {
        $VIP/128 dev eth0
    }
}
EOT
}

# The keepalived peer: VRRP only (its checker needs IPVS, which this kernel lacks).
ka_start() {
  if [ ! -e "$STATE/ka-up" ]; then
    host "$KA" "$KA_IP" "k$S"
    touch "$STATE/ka-up"
  fi
  { echo "global_defs {"; echo "   router_id ka6"; echo "}"; vrrp_instance 90; } >"$STATE/ka.conf"
  rm -f "$STATE/ka.pid" "$STATE/ka-vrrp.pid" "$STATE/ka-check.pid"
  ip netns exec "$KA" keepalived -f "$STATE/ka.conf" -p "$STATE/ka.pid" -r "$STATE/ka-vrrp.pid" \
    -c "$STATE/ka-check.pid" -n -l -D --vrrp >>"$STATE/keepalived.log" 2>&1 &
  echo $! >"$STATE/run-keepalived.pid"
}

vrrp_mode() {
  touch "$STATE/vrrp"
  lb_stop
  ip -n "$LB" addr del "$VIP/128" dev eth0 2>/dev/null || true
  conf
  ka_start
  lb_start
}

# lb_start [2]: xlbd on lb (files lb.conf, lb.sock, xlbd.log ...) or on lb2 (lb2.conf, lb2.sock,
# xlbd2.log ...), each with its own pin directory.
lb_start() {
  local n=${1:-} ns=$LB
  [ "$n" = 2 ] && ns=$LB2
  mkdir -p "$STATE/bpf/lb$n"
  # libxdp keeps its own state on a bpffs; /sys/fs/bpf is not one inside `ip netns exec`.
  ip netns exec "$ns" env LIBXDP_BPFFS="$STATE/bpf" "$BUILD/ctrl/xlbd" -f "$STATE/lb$n.conf" --interface eth0 \
    --pin-dir "$STATE/bpf/lb$n" --socket "$STATE/lb$n.sock" -p "$STATE/xlbd$n.pid" --dump-file "$STATE/xlbd$n.json" \
    --sync-key-file "$STATE/sync.key" >>"$STATE/xlbd$n.log" 2>&1 &
  echo $! >"$STATE/run-xlbd$n.pid"
  for _ in $(seq 100); do
    [ -S "$STATE/lb$n.sock" ] && return 0
    alive "$(cat "$STATE/run-xlbd$n.pid")" || break
    sleep 0.1
  done
  echo "xlbd$n did not start; its log:" >&2
  tail -n 20 "$STATE/xlbd$n.log" >&2
  return 1
}

sync_mode() {
  stop_pid "$STATE/run-keepalived.pid"
  # VRRP holds the VIP (also when `vrrp` was not run first): sync follows its instance.
  touch "$STATE/vrrp" "$STATE/sync"
  ip -n "$LB" addr del "$VIP/128" dev eth0 2>/dev/null || true
  head -c 32 /dev/urandom >"$STATE/sync.key"
  if [ ! -e "$STATE/lb2-up" ]; then
    host "$LB2" "$LB2_IP" "m$S"
    ip -n "$SW" link set dev "m$S" xdpdrv obj "$BUILD/bpf/pass.bpf.o" sec xdp
    ip netns exec "$LB2" ethtool -K eth0 tx off >/dev/null
    touch "$STATE/lb2-up"
  fi
  conf
  conf "" 90 "$STATE/lb2.conf"
  lb_stop
  lb_start
  lb_start 2
}

lb_stop() {
  stop_pid "$STATE/run-xlbd.pid"
  rm -f "$STATE/lb.sock"
}

ctl() { "$BUILD/tools/xlbctl/xlbctl" -s "$STATE/lb.sock" "$@"; }

# COUNT new connections to [VIP]:80 from the client, each from the next source address.
# Pinned to CPU 0: XDP runs where the client's frames are sent, and wrr walks its sequence per
# CPU, so one CPU makes the split exact for any multiple of the sequence's length.
requests() {
  local count=$1 sources=${2:-$CL_IP}
  exec taskset -c 0 ip netns exec "$CL" python3 - "$VIP" "$VIP4" "$count" "$sources" "$STATE/requests.log" \
    "$STATE/next-port" <<'EOF'
import os, socket, sys
vip6, vip4, count, sources = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(",")
log = open(sys.argv[5], "a")
# Source ports are handed out in sequence over the whole lab's life. The kernel's choice comes
# back to a port within seconds at times, and a 5-tuple the balancer has seen within its flow
# timeout (900 s) continues that flow, to that real: it is not a new connection to schedule.
port_file = sys.argv[6]
next_port = int(open(port_file).read()) if os.path.exists(port_file) else 20000

def get(source):
    v6 = ":" in source
    vip = vip6 if v6 else vip4
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        global next_port
        port, next_port = next_port, 20000 + (next_port - 20000 + 1) % 40000
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((source, port))
        s.connect((vip, 80))
        port = s.getsockname()[1]
        s.sendall(b"GET /index.html HTTP/1.0\r\nHost: lab6\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n")[0] + b" ":
        raise OSError("bad reply")
    # Which connection (source address and port) each real answered, for a test to compare
    # with the balancer's flow table.
    print(source, port, body.decode().strip(), file=log)
    return body.decode().strip()

counts = {}
for i in range(count):
    try:
        name = get(sources[i % len(sources)])
    except OSError:
        name = "failed"
    counts[name] = counts.get(name, 0) + 1
open(port_file, "w").write(str(next_port))
for name in sorted(counts):
    print(name, counts[name])
EOF
}

up() {
  [ -x "$BUILD/ctrl/xlbd" ] || { echo "no $BUILD/ctrl/xlbd (build first)" >&2; return 1; }
  [ -f "$BUILD/bpf/pass.bpf.o" ] || { echo "no $BUILD/bpf/pass.bpf.o (build first)" >&2; return 1; }
  mkdir -p "$STATE/bpf"
  mount -t bpf bpf "$STATE/bpf"
  ip netns add "$SW"
  # No MLD querier in the lab: without snooping the bridge floods multicast (solicitations).
  ip -n "$SW" link add br0 type bridge mcast_snooping 0
  ip -n "$SW" link set br0 up
  ip -n "$SW" link set lo up
  host "$CL" "$CL_IP" "c$S"
  for a in $CL_EXTRA; do ip -n "$CL" addr add "$a/64" dev eth0 nodad; done
  host "$LB" "$LB_IP" "l$S"
  # preferred_lft 0 (deprecated): the VIP still receives and answers solicitations, but is never
  # chosen as a source address. Otherwise it would be (it shares the most leading bits with the
  # reals), the health checks would leave from the VIP, and each real would answer itself.
  ip -n "$LB" addr add "$VIP/128" dev eth0 nodad preferred_lft 0
  ip -n "$LB" addr add "$VIP4/32" dev eth0
  # Frames the balancer sends back out of eth0 (XDP_TX) only arrive if the peer runs XDP.
  ip -n "$SW" link set dev "l$S" xdpdrv obj "$BUILD/bpf/pass.bpf.o" sec xdp
  # Checksum offload leaves TCP checksums partial; XDP_TX would forward them broken.
  for ns in "$CL" "$LB"; do ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null; done
  real_server "$RS1" "$RS1_IP" rs1 "r1$S"
  real_server "$RS2" "$RS2_IP" rs2 "r2$S"
  real_server "$SORRY" "$SORRY_IP" sorry "so$S"
  conf
  lb_start
}

need_build() { BUILD=$(cd "${1:?BUILD_DIR required}" && pwd); }
state_build() { BUILD=$(cat "$STATE/build"); }

case $cmd in
  up)
    need_build "${3:-}"
    [ ! -e "$STATE" ] || { echo "$STATE exists: run 'xlb-lab6.sh down $S' first" >&2; exit 1; }
    set -E
    trap 'echo "xlb-lab6: up failed, tearing down" >&2; down; exit 1' ERR
    mkdir -p "$STATE"
    echo "$BUILD" >"$STATE/build"
    up
    trap - ERR
    print_env
    ;;
  down) down ;;
  env) print_env ;;
  conf) conf "${3:-}" ;;
  lb-start) state_build; lb_start ;;
  lb-stop) lb_stop ;;
  rs-stop) stop_pid "$STATE/run-http-${3:?NAME}.pid" ;;
  rs-start) rs_start "${3:?NAME}" ;;
  requests) requests "${3:?COUNT}" "${4:-}" ;;
  ctl) state_build; shift 2; ctl "$@" ;;
  ctl2) state_build; shift 2; "$BUILD/tools/xlbctl/xlbctl" -s "$STATE/lb2.sock" "$@" ;;
  sync) state_build; sync_mode ;;
  vrrp) state_build; vrrp_mode ;;
  ka-stop) stop_pid "$STATE/run-keepalived.pid" ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
