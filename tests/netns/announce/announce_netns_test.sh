#!/usr/bin/env bash
# vip_route_table end to end: two namespaces joined by a veth (lb, rs), xlbd in lb with
# virtual servers on one real: 198.18.0.10 and 2001:db8::10 (plain), 198.18.0.11 (quorum 2,
# never met), and 198.18.0.12, whose real (198.18.0.3) has a neighbour entry with a MAC that
# nobody has: its check's SYNs vanish and it takes connect_timeout (30 s: longer than the
# test needs to look at it) to say so. xlbd starts with the reals down and must announce nothing, not
# even for a moment before the first checks fail (`ip monitor route` watches from before the
# start). The routes are read from the kernel, never from xlbd. Everything it makes carries a per-run
# suffix and goes in the EXIT trap, also on failure.
set -euo pipefail
build=${1:?build directory}
xlbd=$build/ctrl/xlbd
xlbctl=$build/tools/xlbctl/xlbctl
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (namespaces, XDP)"; exit 77; }

sfx=$(printf %x $$)
lb=xan-lb-$sfx rs=xan-rs-$sfx
dir=$(mktemp -d /tmp/xlb-announce-$sfx.XXXX)
bpf=/run/xlb-announce-bpf-$sfx
table=4242 proto=252
pids=()
fail() { echo "FAIL: $*" >&2; exit 1; }
# Built by make check before it runs: missing binaries are a broken build, not a lacking machine.
[ -x "$xlbd" ] && [ -x "$xlbctl" ] || fail "no $xlbd or $xlbctl"
cleanup() {
  local rc=$?
  [ "$rc" = 0 ] || { echo "--- xlbd log (exit $rc)" >&2; tail -25 "$dir/xlbd.log" >&2 2>/dev/null || true; }
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns del "$lb" 2>/dev/null || true
  ip netns del "$rs" 2>/dev/null || true
  umount "$bpf" 2>/dev/null || true
  rmdir "$bpf" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

ip netns add "$lb"
ip netns add "$rs"
ip link add eth0 netns "$lb" type veth peer name eth0 netns "$rs"
ip -n "$lb" addr add 198.18.0.1/24 dev eth0
ip -n "$rs" addr add 198.18.0.2/24 dev eth0
ip -n "$lb" addr add 2001:db8::1/64 dev eth0 nodad
ip -n "$rs" addr add 2001:db8::2/64 dev eth0 nodad
for ns in "$lb" "$rs"; do ip -n "$ns" link set lo up; ip -n "$ns" link set eth0 up; done
# rs drops frames for another MAC: what lb sends to 198.18.0.3 vanishes without an answer.
ip -n "$lb" neigh replace 198.18.0.3 lladdr 02:00:00:00:00:33 dev eth0 nud permanent
# A frame sent into a veth with XDP_TX is only received where the peer has a program: none is
# sent here, so none is needed.
mkdir -p "$bpf"
mount -t bpf bpf "$bpf"

# notify_announce: every route change reaches the script with its reason.
printf '#!/bin/sh\necho "$*" >> %s\n' "$dir/announce.log" >"$dir/announce.sh"
chmod 0755 "$dir/announce.sh"
cat > "$dir/xlb.conf" <<CONF
global_defs {
  vip_route_table $table
  vip_route_grace 2
  notify_announce $dir/announce.sh
  metrics_listen 127.0.0.1:9780
}
virtual_server 198.18.0.10 80 {
  delay_loop 1
  lb_algo wrr
  lb_kind DR
  protocol TCP
  real_server 198.18.0.2 8080 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
virtual_server 2001:db8::10 80 {
  delay_loop 1
  lb_algo wrr
  lb_kind DR
  protocol TCP
  real_server 2001:db8::2 8080 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
virtual_server 198.18.0.12 80 {
  delay_loop 1
  lb_algo wrr
  lb_kind DR
  protocol TCP
  real_server 198.18.0.3 8080 {
    TCP_CHECK {
      connect_timeout 30
      retry 0
    }
  }
}
virtual_server 198.18.0.11 80 {
  delay_loop 1
  lb_algo wrr
  lb_kind DR
  protocol TCP
  quorum 2
  real_server 198.18.0.2 8080 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
CONF

listeners=()
start_real() {
  local family addr
  for family in 4 6; do
    addr=198.18.0.2
    [ $family = 6 ] && addr=2001:db8::2
    ip netns exec "$rs" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8080)); s.listen(64)
while True:
    c, _ = s.accept(); c.close()' "$addr" &
    listeners+=($!)
    pids+=($!)
  done
}
stop_real() {
  local p
  for p in "${listeners[@]}"; do kill -9 "$p"; wait "$p" 2>/dev/null || true; done
  listeners=()
}

daemon=
start_xlbd() {
  ip netns exec "$lb" "$xlbd" -f "$dir/xlb.conf" -i eth0 --pin-dir "$bpf/pins" --socket "$dir/xlbd.sock" \
    --pid-file "$dir/xlbd.pid" --dump-file "$dir/dump.json" --detach-on-exit >>"$dir/xlbd.log" 2>&1 &
  daemon=$!
  pids+=("$daemon")
}
ctl() { ip netns exec "$lb" "$xlbctl" --socket "$dir/xlbd.sock" "$@"; }
routes() {
  { ip -n "$lb" -4 route show table "$table" proto "$proto" 2>/dev/null || true
    ip -n "$lb" -6 route show table "$table" proto "$proto" 2>/dev/null || true; } | awk '{print $1}' | sort | tr '\n' ' '; }
# Waits up to 10 s for the table to hold exactly $1 (a sorted, space-terminated list).
expect_routes() {
  local want=$1 what=$2 i
  for i in $(seq 100); do
    [ "$(routes)" = "$want" ] && { echo "ok: $what: [${want% }]"; return 0; }
    sleep 0.1
  done
  echo "--- xlbd log" >&2; tail -30 "$dir/xlbd.log" >&2
  fail "$what: table $table holds [$(routes)], want [$want]"
}
# The metrics endpoint opens a moment after the control socket: waits for it (5 s).
fetch_metrics() {
  local i
  for i in $(seq 50); do
    ip netns exec "$lb" curl -fsS http://127.0.0.1:9780/metrics >"$dir/metrics" 2>/dev/null && return 0
    sleep 0.1
  done
}
reason_of() { ctl status --json | python3 -c "
import json, sys
for v in json.load(sys.stdin)['announce']['vips']:
    if v['vip'] == '$1': print(v['reason'])"; }

# Every route change in the namespace from before xlbd starts: a route added and deleted
# within one poll of the table would escape expect_routes.
ip -n "$lb" monitor route >"$dir/monitor.log" 2>&1 &
pids+=($!)
sleep 0.3
# The reals are down: no VIP may be announced, not even until the first checks fail.
start_xlbd
for i in $(seq 50); do ctl status --json >/dev/null 2>&1 && break; sleep 0.1; done
r12=$(reason_of 198.18.0.12)
[ "$r12" = checks_pending ] || fail "198.18.0.12 (its check still running): reason [$r12], want checks_pending"
ctl status | grep -q "198.18.0.12  withdrawn  checks_pending" || { ctl status >&2; fail "xlbctl status lacks checks_pending"; }
fetch_metrics
grep -q 'xlb_vip_announced{vip="198.18.0.12",reason="checks_pending"} 0' "$dir/metrics" ||
  { grep announce "$dir/metrics" >&2; fail "metrics lack checks_pending for 198.18.0.12"; }
echo "ok: checks_pending in xlbctl status, --json and /metrics while 198.18.0.12's first check runs"
for vip in 198.18.0.10 2001:db8::10; do
  for i in $(seq 100); do r=$(reason_of $vip); [ "$r" = no_usable_real ] || [ "$r" = quorum_lost ] && break; sleep 0.1; done
  [ "$r" = no_usable_real ] || [ "$r" = quorum_lost ] || fail "$vip with its real down: reason [$r] after 10 s"
done
[ -z "$(routes)" ] || fail "reals down: table holds [$(routes)]"
grep -E "198\.18\.0\.1[0-2]|2001:db8::1[0-2]" "$dir/monitor.log" &&
  fail "a VIP route appeared while every real was down (announced before the first checks)"
grep -q "^ANNOUNCE 198.18.0.10 WITHDRAWN checks_pending$" "$dir/announce.log" ||
  { cat "$dir/announce.log" >&2; fail "notify_announce was not told of 198.18.0.10's initial checks_pending"; }
grep -q "ANNOUNCED" "$dir/announce.log" && fail "notify_announce told of an announcement with every real down"
echo "ok: reals down from the start: no VIP route ever (ip monitor), initial checks_pending told to notify_announce"

start_real
expect_routes "198.18.0.10 2001:db8::10 " "real up: the plain VIPs, IPv4 and IPv6 (198.18.0.11 lacks its quorum)"
grep -q "198.18.0.10" "$dir/monitor.log" || fail "ip monitor saw no route: the check above proved nothing"
grep -q "198.18.0.11 announced" "$dir/xlbd.log" && fail "198.18.0.11 was announced for a moment at start"
# Its real's first check may come after the other services' (no_usable_real until then).
for i in $(seq 100); do r11=$(reason_of 198.18.0.11); [ "$r11" = quorum_lost ] && break; sleep 0.1; done
[ "$r11" = quorum_lost ] || fail "198.18.0.11: reason [$r11], want quorum_lost"
fetch_metrics
grep -q 'xlb_vip_announced{vip="198.18.0.10",reason="announced"} 1' "$dir/metrics" ||
  { grep announce "$dir/metrics" >&2; fail "metrics lack xlb_vip_announced for 198.18.0.10"; }
grep -q 'xlb_vip_announced{vip="198.18.0.11",reason="quorum_lost"} 0' "$dir/metrics" ||
  fail "metrics lack the withdrawn 198.18.0.11"
ip -n "$lb" route show table "$table" proto "$proto" | grep -q "dev xlb-vip" || fail "route not through xlb's device"

stop_real
expect_routes "" "real down: withdrawn"
[ "$(reason_of 198.18.0.10)" = no_usable_real ] || fail "198.18.0.10: reason $(reason_of 198.18.0.10)"
start_real
expect_routes "198.18.0.10 2001:db8::10 " "real back: announced again"
# The script runs beside the route change: give it a moment.
for i in $(seq 50); do grep -q "ANNOUNCE 198.18.0.10 ANNOUNCED announced" "$dir/announce.log" 2>/dev/null &&
  [ "$(grep -c "ANNOUNCE 198.18.0.10 ANNOUNCED" "$dir/announce.log")" -ge 2 ] && break; sleep 0.1; done
# The only real down also takes the quorum (1 by default), which health reports first.
grep -Eq "^ANNOUNCE 198.18.0.10 WITHDRAWN (quorum_lost|no_usable_real)$" "$dir/announce.log" ||
  { cat "$dir/announce.log" >&2; fail "notify_announce did not get the withdrawal and its reason"; }
[ "$(grep -c "^ANNOUNCE 198.18.0.10 ANNOUNCED announced$" "$dir/announce.log")" -ge 2 ] ||
  { cat "$dir/announce.log" >&2; fail "notify_announce did not get the announcements"; }
[ "$(grep "ANNOUNCE 198.18.0.11" "$dir/announce.log")" = "ANNOUNCE 198.18.0.11 WITHDRAWN checks_pending" ] ||
  { cat "$dir/announce.log" >&2; fail "198.18.0.11, never announced: notify_announce should have had its initial state only"; }
echo "ok: notify_announce: $(grep -c . "$dir/announce.log") calls, withdrawal with its reason"

# Draining the VIP's only real leaves it nothing to serve with; undraining announces it again.
ctl drain 198.18.0.2:8080 >/dev/null
expect_routes "2001:db8::10 " "xlbctl drain of 198.18.0.10's only real"
[ "$(reason_of 198.18.0.10)" = no_usable_real ] || fail "198.18.0.10 drained: reason $(reason_of 198.18.0.10)"
ctl undrain 198.18.0.2:8080 >/dev/null
expect_routes "198.18.0.10 2001:db8::10 " "xlbctl undrain"

ctl withdraw >"$dir/withdraw.txt"
grep -q "WITHDRAWN by the operator" "$dir/withdraw.txt" || { cat "$dir/withdraw.txt" >&2; fail "xlbctl withdraw output"; }
expect_routes "" "xlbctl withdraw"
[ "$(reason_of 198.18.0.10)" = operator_withdrawn ] || fail "reason after withdraw: $(reason_of 198.18.0.10)"
ctl announce >/dev/null
ctl status | grep -q "198.18.0.11  withdrawn  quorum_lost" || fail "xlbctl status lacks the VIP lines"
expect_routes "198.18.0.10 2001:db8::10 " "xlbctl announce"

# SIGTERM: routes go at once, xlbd forwards through the grace (2 s), then exits.
kill -TERM "$daemon"
expect_routes "" "SIGTERM: withdrawn"
kill -0 "$daemon" 2>/dev/null || fail "xlbd exited before its grace period"
echo "ok: xlbd still running after the withdrawal"
for i in $(seq 100); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
kill -0 "$daemon" 2>/dev/null && fail "xlbd still running 10 s after SIGTERM"
wait "$daemon" || true
echo "ok: xlbd exited after the grace"

# SIGKILL: nobody removes the routes but the kernel, with the device xlbd held.
start_xlbd
expect_routes "198.18.0.10 2001:db8::10 " "restarted: announced"
kill -KILL "$daemon"
wait "$daemon" 2>/dev/null || true
expect_routes "" "SIGKILL: withdrawn by the kernel"
ip -n "$lb" -o link show | grep -q xlb-vip && fail "xlb-vip device outlived xlbd"
echo "PASS"
