#!/usr/bin/env bash
# The seed notes' two-node keepalived lab, in network namespaces named with a per-run suffix,
# addresses translated from 192.168.126.0/24 + 10.1.1.0/24 to 198.18.0.0/24 + 198.19.0.0/24:
#
#   client 198.18.0.10 --+                  +-- rs1   198.18.0.11 (weight 2)  VIP on lo
#   lb1 eth0 198.18.0.2 -+-- switch (br0) --+-- rs2   198.18.0.12 (weight 1)  VIP on lo
#   lb2 eth0 198.18.0.3 -+
#   lb1 eth1 198.19.0.1 ===== heartbeat veth ===== lb2 eth1 198.19.0.2  (unicast VRRP)
#
# VIP 198.18.0.100 (virtual_server VIP:80, wrr, DR, `sorry_server 127.0.0.1 80` as in the
# notes: each LB serves its own "we are down" page on port 80). Each LB runs xlbd with its own
# config, pin directory (on a bpffs mounted outside /sys, see lab.md), control socket and pid
# file. Every server answers HTTP with its own name (rs1, rs2, sorry-lb1, sorry-lb2).
#
# usage: xlb-lab.sh up SUFFIX BUILD_DIR      topology + servers + both xlbd; waits for a master
#        xlb-lab.sh down SUFFIX              removes everything (safe to run any time)
#        xlb-lab.sh env SUFFIX               names and addresses as shell variables
#        xlb-lab.sh conf SUFFIX N [persist]  (re)writes lb N's config; persist: persistence_timeout 50
#        xlb-lab.sh lb-start SUFFIX N        starts xlbd on lb N (up does both)
#        xlb-lab.sh lb-kill SUFFIX N [SIG]   signals lb N's xlbd (default KILL) and waits for it
#        xlb-lab.sh rs-stop|rs-start SUFFIX NAME   stops/starts the HTTP server of rs1|rs2|sorry-lb1|sorry-lb2
#        xlb-lab.sh requests SUFFIX COUNT    COUNT new connections from the client; prints "name count"
#        xlb-lab.sh request-from SUFFIX PORT one request from client port PORT, ended with a reset
#                                            (so the port can be used again at once); prints the name
#        xlb-lab.sh probe SUFFIX SECONDS     a request every 50 ms; prints the longest gap
#        xlb-lab.sh ctl SUFFIX N ARGS...     xlbctl against lb N
# State (configs, logs, pid files, sockets, the bpffs) lives in /run/xlb-lab-SUFFIX.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/netns-lib.sh"

cmd=${1:?usage: xlb-lab.sh up|down|env|conf|lb-start|lb-kill|rs-stop|rs-start|requests|probe|ctl SUFFIX ...}
S=${2:?suffix required}
[[ $S =~ ^[A-Za-z0-9]{1,8}$ ]] || { echo "suffix must be 1-8 letters/digits" >&2; exit 2; }

SW=xlb-sw-$S CL=xlb-cl-$S LB1=xlb-lb1-$S LB2=xlb-lb2-$S RS1=xlb-rs1-$S RS2=xlb-rs2-$S
STATE=/run/xlb-lab-$S
VIP=198.18.0.100 CL_IP=198.18.0.10 LB1_IP=198.18.0.2 LB2_IP=198.18.0.3
RS1_IP=198.18.0.11 RS2_IP=198.18.0.12 HB1_IP=198.19.0.1 HB2_IP=198.19.0.2
SORRY_SERVER="127.0.0.1 80"
# Detection time of a dead real: delay_loop + retry x delay_before_retry (+ connect_timeout).
DELAY_LOOP=1 RETRY=1 DELAY_BEFORE_RETRY=1 CONNECT_TIMEOUT=1

print_env() {
  cat <<EOT
LAB_SW=$SW LAB_CLIENT=$CL LAB_LB1=$LB1 LAB_LB2=$LB2 LAB_RS1=$RS1 LAB_RS2=$RS2
LAB_STATE=$STATE LAB_BPFFS=$STATE/bpf
LAB_VIP=$VIP LAB_CLIENT_IP=$CL_IP LAB_LB1_IP=$LB1_IP LAB_LB2_IP=$LB2_IP
LAB_RS1_IP=$RS1_IP LAB_RS2_IP=$RS2_IP LAB_SORRY_SERVER="$SORRY_SERVER"
LAB_DELAY_LOOP=$DELAY_LOOP LAB_RETRY=$RETRY LAB_DELAY_BEFORE_RETRY=$DELAY_BEFORE_RETRY LAB_CONNECT_TIMEOUT=$CONNECT_TIMEOUT
EOT
}

lb_ns() { case $1 in 1) echo "$LB1" ;; 2) echo "$LB2" ;; *) echo "no lb $1" >&2; return 2 ;; esac; }
rs_ns() {
  case $1 in
    rs1) echo "$RS1" ;; rs2) echo "$RS2" ;; sorry-lb1) echo "$LB1" ;; sorry-lb2) echo "$LB2" ;;
    *) echo "no server $1" >&2; return 2 ;;
  esac
}

# alive PID: running and not a zombie. Our servers outlive the script that started them, so
# whoever reaps them may be slow, and kill -0 succeeds on a zombie.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ]
}

# stop_pid FILE: SIGTERM, then SIGKILL after 3 s; only the process whose pid we recorded.
stop_pid() {
  local file=$1 pid
  [ -e "$file" ] || return 0
  pid=$(cat "$file")
  if [ -n "$pid" ] && alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 30); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$file"
}

down() {
  for f in "$STATE"/run-*.pid; do [ -e "$f" ] && stop_pid "$f"; done
  for ns in "$CL" "$LB1" "$LB2" "$RS1" "$RS2" "$SW"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  if mountpoint -q "$STATE/bpf" 2>/dev/null; then umount -l "$STATE/bpf"; fi
  rm -rf "$STATE"
}

host() { lab_host "$@"; }

rs_start() { lab_http "$(rs_ns "$1")" "$1" "$STATE/run-http-$1.pid"; }

real_server() {
  local ns=$1 ip=$2 name=$3 port=$4
  host "$ns" "$ip" "$port"
  lab_dr_real "$ns" "$name"
  rs_start "$name"
}

# conf N [persist]: the seed's configuration for lb N (priority 100 on lb1, 90 on lb2).
conf() {
  local n=$1 persist=${2:-} prio src peer
  if [ "$n" = 1 ]; then prio=100 src=$HB1_IP peer=$HB2_IP; else prio=90 src=$HB2_IP peer=$HB1_IP; fi
  local check
  check="HTTP_GET {
            url {
              path /index.html
              status_code 200
            }
            connect_timeout $CONNECT_TIMEOUT
            retry $RETRY
            delay_before_retry $DELAY_BEFORE_RETRY
        }"
  cat >"$STATE/lb$n.conf.new" <<EOT
! xlb lab node lb$n (generated by tools/lab/xlb-lab.sh)
global_defs {
   router_id lb$n
}

vrrp_instance VI_1 {
    state BACKUP
    interface eth1
    virtual_router_id 51
    priority $prio
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass cisco
    }
    virtual_ipaddress {
        $VIP/24 dev eth0 label eth0:1
    }
    unicast_src_ip $src
    unicast_peer {
        $peer
    }
    accept
}

virtual_server $VIP 80 {
    delay_loop $DELAY_LOOP
    lb_algo wrr
    lb_kind DR
    protocol TCP
$( [ "$persist" = persist ] && echo "    persistence_timeout 50" )
    sorry_server $SORRY_SERVER

    real_server $RS1_IP 80 {
        weight 2
        notify_up "$STATE/notify.sh lb$n up rs1"
        notify_down "$STATE/notify.sh lb$n down rs1"
        $check
    }
    real_server $RS2_IP 80 {
        weight 1
        notify_up "$STATE/notify.sh lb$n up rs2"
        notify_down "$STATE/notify.sh lb$n down rs2"
        $check
    }
}
EOT
  mv "$STATE/lb$n.conf.new" "$STATE/lb$n.conf"
  # notify_up/notify_down: one line per verdict in notify-lbN.log.
  cat >"$STATE/notify.sh" <<EOT
#!/bin/sh
node=\$1; shift
echo "\$*" >>"$STATE/notify-\$node.log"
EOT
  chmod 755 "$STATE/notify.sh"
}

lb_start() {
  local n=$1 ns
  ns=$(lb_ns "$n")
  mkdir -p "$STATE/bpf/lb$n"
  # libxdp keeps its own state on a bpffs; /sys/fs/bpf is not one inside `ip netns exec`.
  # XLB_LAB_XLBD_WRAP: a command prefix that execs xlbd under restrictions (for example the
  # systemd unit's capability bounding set and rlimits through prlimit and setpriv); it must
  # exec, so that the pid recorded below stays xlbd's.
  # shellcheck disable=SC2086  # the prefix is words on purpose
  ip netns exec "$ns" env LIBXDP_BPFFS="$STATE/bpf" ${XLB_LAB_XLBD_WRAP:-} \
    "$BUILD/ctrl/xlbd" -f "$STATE/lb$n.conf" --interface eth0 \
    --pin-dir "$STATE/bpf/lb$n" --socket "$STATE/lb$n.sock" -p "$STATE/xlbd-lb$n.pid" --dump-file "$STATE/xlbd-lb$n.json" \
    >>"$STATE/xlbd-lb$n.log" 2>&1 &
  echo $! >"$STATE/run-xlbd-lb$n.pid"
  for _ in $(seq 100); do
    [ -S "$STATE/lb$n.sock" ] && return 0
    alive "$(cat "$STATE/run-xlbd-lb$n.pid")" || break
    sleep 0.1
  done
  echo "xlbd on lb$n did not start; its log:" >&2
  tail -n 20 "$STATE/xlbd-lb$n.log" >&2
  return 1
}

lb_kill() {
  local n=$1 sig=${2:-KILL} file="$STATE/run-xlbd-lb$1.pid" pid
  pid=$(cat "$file")
  kill -"$sig" "$pid"
  for _ in $(seq 50); do alive "$pid" || break; sleep 0.05; done
  rm -f "$file" "$STATE/lb$n.sock"
}

ctl() { local n=$1; shift; "$BUILD/tools/xlbctl/xlbctl" -s "$STATE/lb$n.sock" "$@"; }

# master_of: which lb's xlbd says MASTER for VI_1 ("" if none).
master_of() {
  local n
  for n in 1 2; do
    [ -S "$STATE/lb$n.sock" ] || continue
    if ctl "$n" --json status 2>/dev/null | grep -q '"state": *"MASTER"'; then echo "lb$n"; return 0; fi
  done
  echo ""
}

# The client: every request is a new TCP connection (a new flow for the scheduler).
# It replaces the script's process, so a caller that backgrounds it holds the client's pid.
client_py() {
  exec ip netns exec "$CL" python3 - "$VIP" "$@" <<'EOF'
import socket, sys, time
vip, mode = sys.argv[1], sys.argv[2]

def exchange(s):
    """One HTTP/1.0 request on a connected socket; the whole reply (the server closes)."""
    s.sendall(b"GET /index.html HTTP/1.0\r\nHost: lab\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            return data
        data += chunk

def get(timeout):
    s = socket.create_connection((vip, 80), timeout=timeout)
    try:
        data = exchange(s)
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or b" 200 " not in head.split(b"\r\n")[0] + b" ":
        raise OSError("bad reply")
    return body.decode().strip()

if mode == "requests":
    counts = {}
    for _ in range(int(sys.argv[3])):
        try:
            name = get(1.0)
        except OSError:
            name = "failed"
        counts[name] = counts.get(name, 0) + 1
    for name in sorted(counts):
        print(name, counts[name])
elif mode == "request-from":
    # A busy client or a NAT gateway: the same source port again, right after a reset.
    import struct
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(1.0)
    s.bind(("0.0.0.0", int(sys.argv[3])))
    try:
        s.connect((vip, 80))
        print(exchange(s).partition(b"\r\n\r\n")[2].decode().strip() or "failed")
    except OSError:
        print("failed")
    finally:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
elif mode == "probe":
    # A request every 50 ms; the gap is the longest time between two answered requests.
    end = time.monotonic() + float(sys.argv[3])
    last_ok = None
    gap = 0.0
    ok = failed = 0
    seen = []
    while time.monotonic() < end:
        start = time.monotonic()
        try:
            name = get(0.2)
            now = time.monotonic()
            if last_ok is not None:
                gap = max(gap, now - last_ok)
            last_ok = now
            ok += 1
            if not seen or seen[-1] != name:
                seen.append(name)
        except OSError:
            failed += 1
        time.sleep(max(0.0, 0.05 - (time.monotonic() - start)))
    print(f"ok {ok} failed {failed} longest_gap_ms {gap * 1000:.0f} answered_by {','.join(seen)}")
EOF
}

up() {
  [ -x "$BUILD/ctrl/xlbd" ] || { echo "no $BUILD/ctrl/xlbd (build first)" >&2; return 1; }
  [ -f "$BUILD/bpf/pass.bpf.o" ] || { echo "no $BUILD/bpf/pass.bpf.o (build first)" >&2; return 1; }
  mkdir -p "$STATE/bpf"
  mount -t bpf bpf "$STATE/bpf"
  ip netns add "$SW"
  ip -n "$SW" link add br0 type bridge
  ip -n "$SW" link set br0 up
  ip -n "$SW" link set lo up
  host "$CL" "$CL_IP" "c$S"
  host "$LB1" "$LB1_IP" "l1$S"
  host "$LB2" "$LB2_IP" "l2$S"
  # The heartbeat link: a direct cable between the two LBs (eth1 in the seed).
  ip link add eth1 netns "$LB1" type veth peer name eth1 netns "$LB2"
  ip -n "$LB1" addr add "$HB1_IP/24" dev eth1
  ip -n "$LB2" addr add "$HB2_IP/24" dev eth1
  ip -n "$LB1" link set eth1 up
  ip -n "$LB2" link set eth1 up
  # Frames a balancer sends back out of eth0 (XDP_TX) only arrive if the peer runs XDP.
  ip -n "$SW" link set dev "l1$S" xdpdrv obj "$BUILD/bpf/pass.bpf.o" sec xdp
  ip -n "$SW" link set dev "l2$S" xdpdrv obj "$BUILD/bpf/pass.bpf.o" sec xdp
  # Checksum offload leaves TCP checksums partial; XDP_TX would send them on broken. The LBs
  # are clients too when they `curl VIP` (the notes' puzzle 2).
  for ns in "$CL" "$LB1" "$LB2"; do ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null; done
  real_server "$RS1" "$RS1_IP" rs1 "r1$S"
  real_server "$RS2" "$RS2_IP" rs2 "r2$S"
  # The notes' sorry_server 127.0.0.1 80: each LB's own page, which its kernel serves once
  # the dataplane hands it the VIP's packets (the VIP is an address of the master's eth0).
  for n in 1 2; do
    lab_web_root "sorry-lb$n"
    rs_start "sorry-lb$n"
  done
  conf 1
  conf 2
  lb_start 1
  lb_start 2
  for _ in $(seq 100); do
    [ -n "$(master_of)" ] && return 0
    sleep 0.1
  done
  echo "no LB became master within 10 s" >&2
  return 1
}

need_build() { BUILD=$(cd "${1:?BUILD_DIR required}" && pwd); }
state_build() { BUILD=$(cat "$STATE/build"); }

case $cmd in
  up)
    need_build "${3:-}"
    [ ! -e "$STATE" ] || { echo "$STATE exists: run 'xlb-lab.sh down $S' first" >&2; exit 1; }
    set -E
    trap 'echo "xlb-lab: up failed, tearing down" >&2; down; exit 1' ERR
    mkdir -p "$STATE"
    echo "$BUILD" >"$STATE/build"
    up
    trap - ERR
    print_env
    ;;
  down) down ;;
  env) print_env ;;
  conf) conf "${3:?N}" "${4:-}" ;;
  lb-start) state_build; lb_start "${3:?N}" ;;
  lb-kill) lb_kill "${3:?N}" "${4:-KILL}" ;;
  rs-stop) stop_pid "$STATE/run-http-${3:?NAME}.pid" ;;
  rs-start) rs_start "${3:?NAME}" ;;
  requests) client_py requests "${3:?COUNT}" ;;
  request-from) client_py request-from "${3:?PORT}" ;;
  probe) client_py probe "${3:?SECONDS}" ;;
  master) state_build; master_of ;;
  ctl) state_build; n=${3:?N}; shift 3; ctl "$n" "$@" ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
