#!/usr/bin/env bash
# bench/sync/run.sh BUILD_DIR: flow-sync throughput and a new master's paced takeover burst
# (xlb-bench-sync), and the time xlbd takes
# to reload a configuration of 1,000 virtual servers (weights changed each round), measured
# through `xlbctl reload` (which returns once the reload is applied or refused).
# Prints a table and writes bench/results/sync.json. Root: namespaces, XDP, a private bpffs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
out=$repo/bench/results/sync.json
S=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
NS_LB=xlb-bsl-$S NS_RS=xlb-bsr-$S STATE=/run/xlb-bench-sync-$S
XLBD_PID=

cleanup() {
  if [ -n "$XLBD_PID" ] && kill -0 "$XLBD_PID" 2>/dev/null; then
    kill -TERM "$XLBD_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$XLBD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$XLBD_PID" 2>/dev/null || true
  fi
  ip netns del "$NS_LB" 2>/dev/null || true
  ip netns del "$NS_RS" 2>/dev/null || true
  if mountpoint -q "$STATE/bpf" 2>/dev/null; then umount -l "$STATE/bpf"; fi
  rm -rf "$STATE"
}
trap cleanup EXIT

echo "== flow sync: throughput (unpaced) and a new master's table at the default budget (master -> backup over UDP, HMAC-SHA256)"
sync_json=$("$build/bench/sync/xlb-bench-sync")

# 1,000 virtual servers 198.18.4.0-198.18.7.231:80, two DR reals each (on the peer namespace,
# so their neighbour entries resolve), no VRRP, no checkers.
mkdir -p "$STATE/bpf"
mount -t bpf bpf "$STATE/bpf"
ip netns add "$NS_LB"
ip netns add "$NS_RS"
ip link add eth0 netns "$NS_LB" type veth peer name eth0 netns "$NS_RS"
ip -n "$NS_LB" addr add 198.18.0.2/24 dev eth0
ip -n "$NS_RS" addr add 198.18.0.11/24 dev eth0
ip -n "$NS_RS" addr add 198.18.0.12/24 dev eth0
for ns in "$NS_LB" "$NS_RS"; do ip -n "$ns" link set eth0 up; ip -n "$ns" link set lo up; done
ip -n "$NS_RS" link set dev eth0 xdpdrv obj "$build/bpf/pass.bpf.o" sec xdp

write_conf() {
  local w=$1
  {
    echo "global_defs {"
    echo "   router_id bench"
    echo "   lb_backend xdp"
    echo "}"
    for i in $(seq 0 999); do
      echo "virtual_server 198.18.$((4 + i / 250)).$((i % 250 + 1)) 80 {"
      echo "    lb_algo wrr"
      echo "    lb_kind DR"
      echo "    protocol TCP"
      echo "    real_server 198.18.0.11 80 {"
      echo "        weight $w"
      echo "    }"
      echo "    real_server 198.18.0.12 80 {"
      echo "        weight 1"
      echo "    }"
      echo "}"
    done
  } >"$STATE/xlb.conf"
}
write_conf 1
mkdir -p "$STATE/bpf/lb"
start_ns=$(date +%s%N)
ip netns exec "$NS_LB" env LIBXDP_BPFFS="$STATE/bpf" "$build/ctrl/xlbd" -f "$STATE/xlb.conf" --interface eth0 \
  --pin-dir "$STATE/bpf/lb" --socket "$STATE/xlbd.sock" --sync-rate 20000 >"$STATE/xlbd.log" 2>&1 &
XLBD_PID=$!
for _ in $(seq 600); do [ -S "$STATE/xlbd.sock" ] && break; kill -0 "$XLBD_PID" || break; sleep 0.05; done
[ -S "$STATE/xlbd.sock" ] || { echo "xlbd did not start:" >&2; tail -20 "$STATE/xlbd.log" >&2; exit 1; }
start_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))

reloads=()
for round in 1 2 3 4 5; do
  write_conf $((round + 1))
  t0=$(date +%s%N)
  "$build/tools/xlbctl/xlbctl" --socket "$STATE/xlbd.sock" reload >/dev/null
  reloads+=($(( ($(date +%s%N) - t0) / 1000000 )))
done
applied=$("$build/tools/xlbctl/xlbctl" --socket "$STATE/xlbd.sock" --json status |
  python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["reloads"] if s["reloads_refused"] == 0 else -1)')
[ "$applied" = 5 ] || { echo "reloads were not all applied (status says $applied)" >&2; exit 1; }
services=$("$build/tools/xlbctl/xlbctl" --socket "$STATE/xlbd.sock" --json list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')

python3 - "$sync_json" "$start_ms" "$services" "${reloads[*]}" "$out" <<'PY'
import json, statistics, sys
sync, start_ms, services, reloads, out = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), [int(x) for x in sys.argv[4].split()], sys.argv[5]
print("unpaced (budget far above what the machine does):")
print("%-10s %10s %10s %14s %16s %12s" % ("flows", "installed", "datagrams", "flows/s", "master ns/flow", "wire B/flow"))
for r in sync["sync"]:
    print("%-10d %10d %10d %14.0f %16.0f %12.1f" % (r["flows"], r["installed"], r["datagrams"], r["flows_per_second"], r["master_cpu_ns_per_flow"], r["wire_bytes_per_flow"]))
print()
print("new master's whole table, paced (master and backup on their own threads):")
print("%-10s %8s %10s %7s %9s %8s %16s %16s %14s %14s" % ("flows", "budget/s", "datagrams", "slices", "seconds", "lost",
      "peak dgram in 1s", "peak dgram/s@100ms", "master ns/flow", "backup ns/flow"))
for r in sync["takeover"]:
    print("%-10d %8d %10d %7d %9.2f %8d %16d %16.0f %14.0f %14.0f" % (r["flows"], r["max_datagrams_per_second"], r["datagrams"],
          r["slices"], r["seconds"], r["lost"], r["peak_datagrams_in_any_second"], r["peak_datagrams_per_second_100ms"],
          r["master_cpu_ns_per_flow"], r["backup_cpu_ns_per_flow"]))
print()
print("xlbd start with 1,000 virtual servers: %d ms (%d services listed)" % (start_ms, services))
print("reload of 1,000 virtual servers (weights changed): median %d ms, max %d ms over %d rounds" % (statistics.median(reloads), max(reloads), len(reloads)))
json.dump({"sync": sync["sync"], "takeover": sync["takeover"], "reload": {"virtual_servers": services, "start_ms": start_ms, "reload_ms": reloads,
           "reload_median_ms": statistics.median(reloads)}}, open(out, "w"), indent=2)
print("written", out)
PY
