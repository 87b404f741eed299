#!/usr/bin/env bash
# bench/status_api/run.sh BUILD_DIR: xlbd's CPU per request of the status page and /api/v1
# (issue 32) with 1,000 reals (10 VIPs x 100 reals, DR, no checkers) once the charts' 90 points
# per real are there (about 3 minutes after start), against /metrics of the same xlbd in the same
# run as the baseline. CPU is the run time of xlbd's threads from /proc/PID/task/*/schedstat (ns),
# over REQUESTS sequential requests per endpoint; the client (curl) is not counted. Then one open
# page as a browser keeps it (a poll a second with since=, VIEWER_SECONDS), its CPU beyond idle
# per poll and its bytes per poll; then one open dashboard view (/dashboard: a /metrics scrape
# every 2 s) the same way; idle is xlbd's CPU over IDLE_SECONDS (rate sampler, census).
# Root: namespaces, XDP, a private bpffs. Prints a table and writes bench/results/status_api.json.
# PERF_REPORT=1: also where xlbd's time goes while it answers PERF_PATH (perf, top symbols;
# default /api/v1/dump: the dump reads and serialises the whole model; /metrics: a scrape).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
out=${STATUS_API_JSON:-$repo/bench/results/status_api.json}
requests=${REQUESTS:-200}
idle_seconds=${IDLE_SECONDS:-20}
vips=10 per_vip=100
S=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
NS_LB=xlb-bsal-$S NS_RS=xlb-bsar-$S STATE=/run/xlb-bench-sapi-$S
xlbd_pid=""

cleanup() {
  if [ -n "$xlbd_pid" ]; then kill "$xlbd_pid" 2>/dev/null || true; wait "$xlbd_pid" 2>/dev/null || true; fi
  ip netns del "$NS_LB" 2>/dev/null || true
  ip netns del "$NS_RS" 2>/dev/null || true
  if mountpoint -q "$STATE/bpf" 2>/dev/null; then umount -l "$STATE/bpf"; fi
  rm -rf "$STATE"
}
trap cleanup EXIT

mkdir -p "$STATE/bpf"
mount -t bpf bpf "$STATE/bpf"
ip netns add "$NS_LB"
ip netns add "$NS_RS"
ip link add eth0 netns "$NS_LB" type veth peer name eth0 netns "$NS_RS"
ip -n "$NS_LB" addr add 198.18.0.2/16 dev eth0
for j in $(seq 0 $((vips * per_vip - 1))); do echo "addr add 198.18.$((8 + j / 250)).$((j % 250 + 1))/16 dev eth0"; done |
  ip -n "$NS_RS" -batch -
for ns in "$NS_LB" "$NS_RS"; do ip -n "$ns" link set eth0 up; ip -n "$ns" link set lo up; done
ip -n "$NS_RS" link set dev eth0 xdpdrv obj "$build/bpf/pass.bpf.o" sec xdp

{
  echo "global_defs {"
  echo "    router_id bench-status-api"
  echo "    lb_backend xdp"
  echo "}"
  for v in $(seq 0 $((vips - 1))); do
    echo "virtual_server 198.18.1.$((v + 1)) 80 {"
    echo "    lb_algo wrr"
    echo "    lb_kind DR"
    echo "    protocol TCP"
    for r in $(seq 0 $((per_vip - 1))); do
      j=$((v * per_vip + r))
      echo "    real_server 198.18.$((8 + j / 250)).$((j % 250 + 1)) 80 {"
      echo "        weight 1"
      echo "    }"
    done
    echo "}"
  done
} >"$STATE/xlb.conf"

mkdir -p "$STATE/bpf/xlbd"
ip netns exec "$NS_LB" env LIBXDP_BPFFS="$STATE/bpf" "$build/ctrl/xlbd" -f "$STATE/xlb.conf" --interface eth0 \
  --pin-dir "$STATE/bpf/xlbd" --socket "$STATE/xlbd.sock" --dump-file "$STATE/dump.json" >"$STATE/xlbd.log" 2>&1 &
xlbd_pid=$!
get() { ip netns exec "$NS_LB" curl -sf --max-time 10 "http://127.0.0.1:9780$1"; }
for _ in $(seq 200); do
  [ "$(get '/api/v1/services?limit=1' 2>/dev/null | jq -r .total 2>/dev/null)" = "$vips" ] && break
  kill -0 "$xlbd_pid" 2>/dev/null || { cat "$STATE/xlbd.log"; exit 1; }
  sleep 0.1
done
# The page's charts hold 90 points per real (3 minutes at 2 s): wait until they are full, so
# that a reply with history carries what an operator's page would get. FILL_SECONDS=0 skips it.
fill_seconds=${FILL_SECONDS:-200}
history_len() { get '/api/v1/state?limit=1&events=0' | jq '[.services.items[0].reals[0].history // [] | length] | max'; }
deadline=$((SECONDS + fill_seconds))
while [ "$SECONDS" -lt "$deadline" ] && [ "$(history_len)" -lt 90 ]; do sleep 5; done
points=$(history_len)
reals=$(get '/api/v1/services?limit=1000' | jq '[.items[].reals[]] | length')
[ "$reals" = $((vips * per_vip)) ] || { echo "xlbd lists $reals reals, not $((vips * per_vip))" >&2; exit 1; }

# xlbd's CPU time in ns: the scheduler's run time of each of its threads (/proc/PID/task/*/schedstat).
cpu_ns() { cat /proc/"$xlbd_pid"/task/*/schedstat | awk '{s += $1} END {printf "%.0f\n", s}'; }
seq_now() { get '/api/v1/state?limit=1&events=0&history=0' | jq '.rates.seq // 0'; }
results=()
row() {  # label path bytes ms
  printf '%-52s %9s bytes  %7s ms CPU/request\n' "$1" "$3" "$4"
  results+=("$1|$2|$3|$4")
}
measure() {  # label path: REQUESTS back to back, a connection each (as a browser's poll or a scrape)
  local label=$1 path=$2 before after bytes
  bytes=$(get "$path" | wc -c)
  local urls=()
  for _ in $(seq "$requests"); do urls+=("http://127.0.0.1:9780$path" -o /dev/null); done
  before=$(cpu_ns)
  ip netns exec "$NS_LB" curl -sf --max-time 300 "${urls[@]}"
  after=$(cpu_ns)
  row "$label" "$path" "$bytes" "$(echo "scale=3; ($after - $before) / 1000000 / $requests" | bc)"
}
echo "xlbd with $vips VIPs x $per_vip reals, $points chart points per real, $requests requests per row" \
  "(load before: $(cut -d' ' -f1-3 /proc/loadavg))"
idle_before=$(cpu_ns)
sleep "$idle_seconds"
idle_after=$(cpu_ns)
idle_ns_per_s=$(((idle_after - idle_before) / idle_seconds))
idle_share=$(echo "scale=4; $idle_ns_per_s / 10000000" | bc)
echo "idle: ${idle_share}% of one CPU over ${idle_seconds} s (rate sampler every 2 s, flow census, timers)"
measure "/metrics (baseline)" "/metrics"
measure "/api/v1/state, all history (page's first poll)" "/api/v1/state?limit=1000"
measure "/api/v1/state?since=SEQ (page's next polls)" "/api/v1/state?limit=1000&since=$(seq_now)"
measure "/api/v1/state?history=0" "/api/v1/state?limit=1000&history=0"
measure "/api/v1/services?limit=1000" "/api/v1/services?limit=1000"
perf_path=${PERF_PATH:-/api/v1/dump}
if [ "${PERF_REPORT:-0}" = 1 ]; then
  perf record -q -F 999 -g -p "$xlbd_pid" -o "$STATE/perf.data" >/dev/null 2>&1 &
  perf_pid=$!
  sleep 1
  # Requests of their own: the measured rows below stay free of perf's cost.
  for _ in $(seq "$requests"); do get "$perf_path" >/dev/null; done
  kill -INT "$perf_pid"
  wait "$perf_pid" || true
  echo "where xlbd's time goes answering $perf_path:"
  # head closes the pipe early: not an error of the bench.
  perf report -i "$STATE/perf.data" --stdio --no-children --sort dso,sym 2>/dev/null | grep -E '^ +[0-9]' |
    cut -c1-160 | head -25 || true
fi
measure "/api/v1/dump" "/api/v1/dump"
measure "/ (the page itself)" "/"
measure "/dashboard (the dashboard view's page)" "/dashboard"
measure "/xlb-dashboard.json (the packaged dashboard)" "/xlb-dashboard.json"
# An open page as a browser keeps it, for VIEWER_SECONDS; its CPU beyond idle per request and its
# bytes per request. viewer state: the status page, a poll a second, each asking for the points
# after the last reply's seq (the state rebuilt whenever the sampler has read, every 2 s).
# viewer metrics: the dashboard view (/dashboard), whose only request is a /metrics scrape every
# 2 s (it evaluates the PromQL itself).
viewer_seconds=${VIEWER_SECONDS:-30}
viewer() {  # kind interval label
  local kind=$1 interval=$2 label=$3 since=0 polls=0 bytes=0 before after start elapsed next path ms
  before=$(cpu_ns)
  start=$SECONDS
  while [ $((SECONDS - start)) -lt "$viewer_seconds" ]; do
    next=$(date +%s.%N)
    path=/metrics
    [ "$kind" = state ] && path="/api/v1/state?limit=1000&since=$since"
    ip netns exec "$NS_LB" curl -sf --max-time 10 -o "$STATE/poll.out" "http://127.0.0.1:9780$path"
    bytes=$((bytes + $(stat -c %s "$STATE/poll.out")))
    if [ "$kind" = state ]; then
      # rates.seq without a JSON parser: the client's own time would stretch the poll interval.
      since=$(grep -o '"rates":{[^}]*}' "$STATE/poll.out" | grep -o '"seq":[0-9]*' | cut -d: -f2 || true)
      since=${since:-0}
    fi
    polls=$((polls + 1))
    sleep "$(echo "x = $next + $interval - $(date +%s.%N); if (x > 0) x else 0" | bc)"
  done
  after=$(cpu_ns)
  elapsed=$((SECONDS - start))
  ms=$(echo "scale=3; ($after - $before - $idle_ns_per_s * $elapsed) / 1000000 / $polls" | bc)
  row "$label: $polls requests in ${elapsed} s, beyond idle" "viewer-$kind" "$((bytes / polls))" "$ms"
}
viewer state 1 "one open page"
viewer metrics 2 "one open dashboard view"
# The same view in a browser: its own work per scrape (parse, PromQL, charts), not xlbd's.
if command -v chromium >/dev/null; then
  browser_json=$(python3 "$here/dashboard_browser.py" "$NS_LB" http://127.0.0.1:9780/dashboard "$viewer_seconds" || true)
  echo "dashboard view in Chromium: $browser_json"
else
  browser_json='{"skipped": "no chromium"}'
fi

printf '%s\n' "${results[@]}" | python3 -c '
import json, sys, datetime, platform
rows = []
for line in sys.stdin:
    label, path, size, ms = line.rstrip("\n").split("|")
    rows.append({"label": label, "path": path, "bytes": int(size), "cpu_ms_per_request": float(ms)})
base = rows[0]["cpu_ms_per_request"] or None
for r in rows:
    r["ratio_to_metrics"] = round(r["cpu_ms_per_request"] / base, 2) if base else None
json.dump({"bench": "status_api", "date": datetime.datetime.utcnow().isoformat() + "Z", "host": platform.node(),
           "reals": int(sys.argv[1]), "requests": int(sys.argv[2]), "idle_cpu_percent": float(sys.argv[3]),
           "commit": sys.argv[5], "rows": rows, "dashboard_view_browser": json.loads(sys.argv[6] or "{}")},
          open(sys.argv[4], "w"), indent=2)
' "$reals" "$requests" "$idle_share" "$out" "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)" "$browser_json"
echo "written: $out"
