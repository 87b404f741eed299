#!/usr/bin/env bash
# The seed notes' story, live: two xlbd nodes (VRRP over a unicast heartbeat link), two real
# servers behind the VIP in DR mode, a sorry server, a client sending real HTTP requests.
# Every step prints a short table with what was measured. Needs root and a build (`make demo`
# builds first). usage: tools/demo.sh [BUILD_DIR]     Walkthrough: docs/demo.md
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
for f in "$build/ctrl/xlbd" "$build/tools/xlbctl/xlbctl" "$build/bpf/pass.bpf.o"; do
  [ -e "$f" ] || { echo "demo: $f is missing; run 'make build' first" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "demo: needs root (namespaces, XDP)" >&2; exit 1; }
command -v jq >/dev/null || { echo "demo: needs jq" >&2; exit 1; }

suffix=d$$
suffix=${suffix:0:8}
lab=$here/lab/xlb-lab.sh
. "$here/lab/netns-lib.sh"  # alive: a stopped server may stay a zombie until init reaps it
started=$(date +%s.%N)
probe_pid=
# teardown: removes the lab and then looks for what it created, so that the last line reports
# what is left rather than what should be; a leftover makes the demo fail.
teardown() {
  local rc=$? state=/run/xlb-lab-$suffix ns_list pids=() pins=0 ns_left procs_left=0 pins_left=0 p
  [ -z "$probe_pid" ] || kill "$probe_pid" 2>/dev/null
  ns_list=$(ip netns list | awk -v s="-$suffix" '$1 ~ s"$" { print $1 }')
  for p in "$state"/run-*.pid; do [ -e "$p" ] && pids+=("$(cat "$p")"); done
  [ -d "$state/bpf" ] && pins=$(find "$state/bpf" -type f | wc -l)
  "$lab" down "$suffix"
  ns_left=$(ip netns list | awk -v s="-$suffix" '$1 ~ s"$"' | wc -l)
  for p in "${pids[@]}"; do alive "$p" && procs_left=$((procs_left + 1)); done
  [ -d "$state" ] && pins_left=$(find "$state" -type f | wc -l)
  grep -q " $state/" /proc/mounts && pins_left=$((pins_left + 1))
  local removed
  removed="$(grep -c . <<<"$ns_list" || true) namespaces, ${#pids[@]} processes, $pins pinned BPF objects"
  if [ "$ns_left$procs_left$pins_left" = 000 ]; then
    echo "== torn down: $removed; nothing left"
  else
    echo "== teardown incomplete: $ns_left namespaces, $procs_left processes, $pins_left pins or mounts" \
      "left (xlb-lab.sh down $suffix again)" >&2
    [ "$rc" != 0 ] || rc=1
  fi
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
step() { printf '\n== %s\n' "$*"; }
ctl() { "$lab" ctl "$suffix" "$@"; }

# health_of N ADDR: lb N's view of a real server (up/down).
health_of() {
  ctl "$1" --json list 2>/dev/null | jq -r --arg a "$2" '.[0].reals[] | select(.address == $a) | .health' || true
}
# in_map N ADDR: "up" if lb N's pinned BPF maps hold ADDR with a weight, else "down". Read
# from the maps themselves: the socket named does not exist, so xlbctl cannot ask xlbd.
in_map() {
  "$build/tools/xlbctl/xlbctl" -s "/run/xlb-lab-$suffix/none.sock" --pin-dir "/run/xlb-lab-$suffix/bpf/lb$1" \
    --json list 2>/dev/null |
    jq -r --arg a "$2" '[.[0].reals[] | select(.address == $a and .weight > 0)] | if length > 0 then "up" else "down" end' ||
    true
}
# wait_health ADDR STATE [T0]: until the master's xlbd says ADDR is STATE and its maps agree;
# prints the seconds since T0.
wait_health() {
  local addr=$1 want=$2 t0=${3:-$(now)} master
  master=$("$lab" master "$suffix"); master=${master#lb}
  for _ in $(seq 200); do
    if [ "$(in_map "$master" "$addr")" = "$want" ] && [ "$(health_of "$master" "$addr")" = "$want" ]; then
      elapsed "$t0" "$(now)"
      return 0
    fi
    sleep 0.05
  done
  echo "timeout"
}
# requests N TITLE: N new connections from the client, as a table of who answered.
requests() {
  local n=$1
  "$lab" requests "$suffix" "$n" | awk -v n="$n" '
    BEGIN { printf "   %-8s %8s %7s\n", "answered", "requests", "share" }
    { printf "   %-8s %8d %6.1f%%\n", $1, $2, 100 * $2 / n }'
}
# wait_master lbN: until that node reports MASTER (at most 20 s; VRRP needs about 3.6 s).
wait_master() {
  for _ in $(seq 400); do
    [ "$("$lab" master "$suffix")" = "$1" ] && return 0
    sleep 0.05
  done
  echo "demo: $1 did not become master within 20 s" >&2
  return 1
}
masters() {
  printf '   %-5s %-8s %-8s %s\n' node state priority "VIP on eth0"
  local n state prio vip ns
  for n in 1 2; do
    ns=xlb-lb$n-$suffix
    if [ -S "/run/xlb-lab-$suffix/lb$n.sock" ]; then
      read -r state prio < <(ctl "$n" --json status | jq -r '.instances[0] | "\(.state) \(.priority)"')
    else
      state="(no xlbd)" prio=-
    fi
    if ip -n "$ns" -br addr show eth0 2>/dev/null | grep -q "$LAB_VIP"; then vip=yes; else vip=no; fi
    printf '   lb%-3s %-8s %-8s %s\n' "$n" "$state" "$prio" "$vip"
  done
}

step "1. the lab: switch, client, lb1 + lb2 (xlbd, VRRP over the eth1 heartbeat link), rs1, rs2"
eval "$("$lab" up "$suffix" "$build")"
echo "   VIP $LAB_VIP:80 wrr DR; rs1 $LAB_RS1_IP weight 2, rs2 $LAB_RS2_IP weight 1, sorry_server $LAB_SORRY_SERVER"
echo "   (as in the notes: each LB serves its own page on port 80; xlbctl lists it as Local)"
echo "   HTTP_GET every ${LAB_DELAY_LOOP}s, retry $LAB_RETRY, delay_before_retry ${LAB_DELAY_BEFORE_RETRY}s"
masters

step "2. 300 requests, each a new connection: wrr splits them 2:1"
requests 300
ctl 1 list --stats | sed 's/^/   /'

step "3. the same with persistence_timeout 50 (reload): one client, one real (the notes' puzzle 1)"
"$lab" conf "$suffix" 1 persist
"$lab" conf "$suffix" 2 persist
ctl 1 reload >/dev/null
ctl 2 reload >/dev/null
requests 300
echo "   persistence pins a client address to the real it was first given, for 50 s after its last"
echo "   connection: one client never sees the 2:1 split, many clients do. Back to no persistence:"
"$lab" conf "$suffix" 1
"$lab" conf "$suffix" 2
ctl 1 reload >/dev/null
ctl 2 reload >/dev/null
requests 30

budget=$((LAB_DELAY_LOOP + LAB_RETRY * LAB_DELAY_BEFORE_RETRY))
step "4. rs1's HTTP server stops: removed within delay_loop + retry x delay_before_retry = ${budget}s"
t0=$(now)
"$lab" rs-stop "$suffix" rs1
down_after=$(wait_health "$LAB_RS1_IP" down "$t0")
requests 30
t0=$(now)
"$lab" rs-start "$suffix" rs1
up_after=$(wait_health "$LAB_RS1_IP" up "$t0")
printf '   %-34s %s s\n' "rs1 stopped -> out of the map" "$down_after" "rs1 restarted -> back in the map" "$up_after"
sleep 0.3
for n in 1 2; do
  printf '   %-34s %s\n' "notify_down/notify_up on lb$n" "$(tail -n 2 "/run/xlb-lab-$suffix/notify-lb$n.log" 2>/dev/null | paste -sd, -)"
done
requests 30

step "5. rs1 and rs2 both stop: the sorry server on the master itself (127.0.0.1 80) answers"
"$lab" rs-stop "$suffix" rs1
"$lab" rs-stop "$suffix" rs2
wait_health "$LAB_RS1_IP" down >/dev/null
wait_health "$LAB_RS2_IP" down >/dev/null
requests 30
ctl 1 list | sed 's/^/   /'
"$lab" rs-start "$suffix" rs1
"$lab" rs-start "$suffix" rs2
wait_health "$LAB_RS1_IP" up >/dev/null
wait_health "$LAB_RS2_IP" up >/dev/null
echo "   both restarted:"
requests 30

step "6. puzzle 2: \`curl VIP\` from the LB nodes themselves"
for n in 1 2; do
  if out=$(ip netns exec "xlb-lb$n-$suffix" curl -s -m 2 "http://$LAB_VIP/index.html" 2>&1); then :; else out="failed (curl exit $?)"; fi
  printf '   from lb%s (%s): %s\n' "$n" "$(ctl "$n" --json status | jq -r '.instances[0].state')" "${out:-empty}"
done
echo "   on the master the VIP is a local address: the kernel delivers locally (to the LB's own page,"
echo "   the sorry server), and a locally generated packet never passes the NIC's XDP ingress hook."
echo "   The backup has no VIP, so its request leaves on the wire and the master's XDP forwards it."

step "7. xlbd on lb1 (the master) is killed with SIGKILL while the client sends a request every 50 ms"
probe=/run/xlb-lab-$suffix/probe.out
"$lab" probe "$suffix" 7 >"$probe" &
probe_pid=$!
sleep 1
killed=$(now)
"$lab" lb-kill "$suffix" 1
wait_master lb2
takeover=$(elapsed "$killed" "$(now)")
wait "$probe_pid"
probe_pid=
read -r _ ok _ failed _ gap _ < "$probe"
printf '   %-40s %s s\n' "lb2 MASTER after" "$takeover"
printf '   %-40s %s ok, %s failed, longest gap %s ms\n' "client (every 50 ms)" "$ok" "$failed" "$gap"
masters
echo "   the XDP program and the VIP outlive a killed xlbd (as IPVS rules and the VIP outlive a killed"
echo "   keepalived): lb1 forwards until lb2's gratuitous ARP moves the client, so no gap."

step "8. lb1 comes back (xlbd restarted, adopts its pinned maps, preempts), then the whole node dies"
"$lab" lb-start "$suffix" 1
wait_master lb1
masters
"$lab" probe "$suffix" 7 >"$probe" &
probe_pid=$!
sleep 1
killed=$(now)
ip -n "$LAB_SW" link set "l1$suffix" down   # the node's cable: nothing of lb1 forwards now
"$lab" lb-kill "$suffix" 1
wait_master lb2
takeover=$(elapsed "$killed" "$(now)")
wait "$probe_pid"
probe_pid=
read -r _ ok _ failed _ gap _ < "$probe"
printf '   %-40s %s s\n' "lb2 MASTER after" "$takeover"
printf '   %-40s %s ok, %s failed, longest gap %s ms\n' "client (every 50 ms)" "$ok" "$failed" "$gap"
echo "   the gap is VRRP's master-down interval (3 x advert_int 1 s + skew); lb2's maps were"
echo "   already filled, so it forwards from the first packet after its gratuitous ARP."
requests 30

step "9. lb1 is repaired and preempts again; then its xlbd is stopped cleanly (SIGTERM)"
ip -n "$LAB_SW" link set "l1$suffix" up
"$lab" lb-start "$suffix" 1
wait_master lb1
sleep 0.5
"$lab" probe "$suffix" 4 >"$probe" &
probe_pid=$!
sleep 1
stopped=$(now)
"$lab" lb-kill "$suffix" 1 TERM
wait_master lb2
takeover=$(elapsed "$stopped" "$(now)")
wait "$probe_pid"
probe_pid=
read -r _ ok _ failed _ gap _ < "$probe"
printf '   %-40s %s s\n' "lb2 MASTER after" "$takeover"
printf '   %-40s %s ok, %s failed, longest gap %s ms\n' "client (every 50 ms)" "$ok" "$failed" "$gap"
masters
echo "   a stopping master sends priority 0 and removes its VIP: the backup takes over after its"
echo "   skew time ((256 - priority) / 256 x advert_int), not three missed advertisements."

step "done in $(elapsed "$started" "$(now)") s; tearing down"
