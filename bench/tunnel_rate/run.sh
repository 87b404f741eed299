#!/bin/bash
# Live-frames forwarding rate of lb_kind TUN beside DR on the same path (issue 30's target: a
# TUN flow at least 0.85 of a DR flow). The forwarding lab (bench/forwarding/lab.sh) with three
# pairs: DR (the balancer rewriting MACs), TUN ipip and TUN gue (the balancer encapsulating to
# reals whose next hop the kernel's FIB names: the reals' addresses are on the LB's veth,
# with the generator's MAC as their neighbour, forwarding on for the lookup). Every forwarded
# frame comes back to the generator's veth, where xlb-pktgen's sink counts it; the three are
# measured turn about, configuration by configuration, and the best round counts.
#
# Usage: bench/tunnel_rate/run.sh BUILD_DIR     (root)
#   FWD_SECONDS=2 per run, FWD_REPEAT=3 rounds, TUN_FLOWS="1 1000". Frames are 64 and 1024
#   bytes: a 1500-byte frame would not fit the veth's MTU once encapsulated (the balancer
#   answers it with "fragmentation needed", which is another benchmark). Prints a table, writes
#   bench/results/tunnel_rate.json (or $TUN_RATE_JSON).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
out_json=${TUN_RATE_JSON:-$repo/bench/results/tunnel_rate.json}
flow_counts=${TUN_FLOWS:-1 1000}
max_flows=262144
target_ratio=0.85
outer_src=198.18.2.254

. "$repo/bench/forwarding/lab.sh"
fwd_begin tunnel_rate

fwd_lab_up dr ipip gue
fwd_probe_live_frames tunnel_rate dr

# The FIB's view for the TUN pairs: the reals (198.18.2.1-4, xlb-pktgen-target's) on the LB's
# veth, each resolved to the generator's MAC, so that encapsulated frames go back to the sink.
# Both pairs' veths carry a route to them (the second with a higher metric): the program asks
# for the next hop out of its own veth, and the lookup keeps to routes through it.
metric=10
for pair in ipip gue; do
  dev=${fwd_lb_if[$pair]}
  ip netns exec "$fwd_lb_ns" sysctl -qw "net.ipv4.conf.$dev.forwarding=1"
  ip -n "$fwd_lb_ns" route add 198.18.2.0/24 dev "$dev" metric "$metric"
  metric=$((metric + 10))
  for n in 1 2 3 4; do
    ip -n "$fwd_lb_ns" neigh replace "198.18.2.$n" lladdr "${fwd_gen_mac[$pair]}" dev "$dev" nud permanent
  done
done
ip -n "$fwd_lb_ns" addr add "$outer_src/32" dev lo
ip -n "$fwd_lb_ns" link set lo up

fwd_start_target dr "$max_flows"
fwd_start_target ipip "$max_flows" --tunnel ipip --tunnel-src "$outer_src"
fwd_start_target gue "$max_flows" --tunnel gue --tunnel-src "$outer_src"

runs=()
for rep in $(seq "$fwd_repeat"); do
  for size in 64 1024; do
    for flows in $flow_counts; do
      for pair in dr ipip gue; do
        result=$work/$pair-$size-$flows-$rep.json
        fwd_gen "$pair" "$result" --cpus 0 --flows "$flows" --src-addrs 16 --size "$size" --warmup 0.5 \
          --duration "$fwd_seconds"
        runs+=("$pair $size $flows $rep $result")
      done
      printf '  round %s/%s: %5s B  %8s flow(s)\n' "$rep" "$fwd_repeat" "$size" "$flows" >&2
    done
  done
done
fwd_lab_down

printf '%s\n' "${runs[@]}" >"$work/runs.txt"
python3 - "$out_json" "$target_ratio" "$fwd_seconds" "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  "$work" <<'PY'
import datetime, json, os, platform, sys
out, target, seconds, commit, work = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
runs = []
for line in open(os.path.join(work, "runs.txt")):
    if not line.strip():
        continue
    pair, size, flows, rep, path = line.split()
    s = json.load(open(path))
    runs.append({"pair": pair, "frame_size": int(size), "flows": int(flows), "round": int(rep),
                 "generated": s["packets"], "forwarded": s["sink"]["packets"], "fwd_mpps": round(s["sink"]["mpps"], 4)})
best = {}
for r in runs:
    key = (r["pair"], r["frame_size"], r["flows"])
    best[key] = max(best.get(key, 0), r["fwd_mpps"])
counters = {}
for pair in ("dr", "ipip", "gue"):
    try:
        for line in open(os.path.join(work, f"target-{pair}.out")):
            event = json.loads(line)
            if event.get("event") == "exit":
                counters[pair] = {k: v for k, v in event.get("counters", {}).items() if v}
    except OSError:
        pass
rows = []
print(f"TUN vs DR forwarding rate, live frames through veth (XDP native), UDP/IPv4, 1 core, {seconds:g} s per run, "
      f"best of {max(r['round'] for r in runs)} rounds")
print(f"{'frame':>6} {'flows':>6} {'DR Mpps':>8} {'ipip':>8} {'ratio':>6} {'gue':>8} {'ratio':>6}  target >= {target}")
for (pair, size, flows), dr in sorted(best.items(), key=lambda kv: (kv[0][1], kv[0][2])):
    if pair != "dr":
        continue
    row = {"frame_size": size, "flows": flows, "dr_mpps": dr, "target_ratio": target}
    cells = []
    for kind in ("ipip", "gue"):
        mpps = best.get((kind, size, flows))
        ratio = mpps / dr if mpps and dr else None
        row[f"{kind}_mpps"] = mpps
        row[f"{kind}_ratio"] = round(ratio, 3) if ratio else None
        row[f"{kind}_met"] = ratio >= target if ratio else None
        cells.append(f"{mpps or 0:>8.3f} {ratio or 0:>5.2f}{'' if ratio and ratio >= target else '!'}")
    rows.append(row)
    print(f"{size:>6} {flows:>6} {dr:>8.3f} " + " ".join(cells))
print("!: below the target. Balancer counters (non-zero):", json.dumps(counters))
doc = {"benchmark": "tunnel_rate", "commit": commit,
       "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
       "kernel": platform.release(), "load_average": os.getloadavg(),
       "method": "xlb-pktgen live frames out of a veth; the balancer on the peer (XDP native) forwards DR, "
                 "TUN ipip or TUN gue back with XDP_TX; forwarded = frames the generator's sink counts",
       "statistic": "best of rounds (the machine is shared)", "seconds_per_run": seconds,
       "table": rows, "runs": runs, "balancer_counters": counters}
os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
json.dump(doc, open(out, "w"), indent=2)
print("wrote", out)
PY
