#!/bin/bash
# New flows on a full connection table, the steady state of a busy balancer: the generator
# cycles through more flows (FWD_FLOWS, 1M) than the table holds (CHURN_TABLE, 65,536), so
# every packet is a new flow that evicts another. Measured for both `xdp_flow_lru` settings,
# shared LRU lists (the default) and per-CPU ones, on 1 and 2 cores, turn about, through the
# namespace lab of bench/forwarding (live frames, XDP native on veth, XDP_TX back).
#
# Usage: bench/churn/run.sh BUILD_DIR     (root)
#   FWD_SECONDS=2 per run, FWD_REPEAT=3 rounds (the best counts). Prints a table, writes
#   bench/results/churn.json (or $CHURN_JSON).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
table=${CHURN_TABLE:-65536}
out_json=${CHURN_JSON:-$repo/bench/results/churn.json}

. "$repo/bench/forwarding/lab.sh"
fwd_begin churn
core_counts=$(fwd_core_counts)

# Two veth pairs, named after the LRU setting of the balancer on each.
fwd_lab_up shared per_cpu
for lru in shared per_cpu; do
  fwd_start_target "$lru" "$table" --flow-lru "$lru"
  # Fill the table so that the measured runs start full.
  fwd_gen "$lru" "$work/fill-$lru.json" --cpus 0 --flows "$fwd_flows" --src-addrs 16 --count "$table"
done

results=()
for rep in $(seq "$fwd_repeat"); do
  for cores in $core_counts; do
    for lru in shared per_cpu; do
      out=$work/$lru-$cores-$rep.json
      fwd_gen "$lru" "$out" --cpus "$(seq -s, 0 $((cores - 1)))" --flows "$fwd_flows" --src-addrs 16 --size 64 \
        --warmup 0.5 --duration "$fwd_seconds"
      results+=("$lru $cores $rep $out")
    done
    printf '  round %s/%s: %s core(s)\n' "$rep" "$fwd_repeat" "$cores" >&2
  done
done
fwd_lab_down

printf '%s\n' "${results[@]}" >"$work/runs.txt"
python3 - "$work/runs.txt" "$out_json" "${BENCH_COMMIT:-$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)}" \
  "$fwd_flows" "$table" "$fwd_seconds" <<'PY'
import datetime, json, platform, sys
runs, out, commit = sys.argv[1], sys.argv[2], sys.argv[3]
flows, table, seconds = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
samples = {}
for line in open(runs):
    if line.strip():
        lru, cores, rep, path = line.split()
        with open(path) as f:
            samples.setdefault((lru, int(cores)), []).append(json.load(f)["sink"]["mpps"])
rows = []
for cores in sorted({c for _, c in samples}):
    shared, per_cpu = max(samples[("shared", cores)]), max(samples[("per_cpu", cores)])
    rows.append({"cores": cores, "shared_mpps": round(shared, 4), "per_cpu_mpps": round(per_cpu, 4),
                 "shared_to_per_cpu": round(shared / per_cpu, 3),
                 "shared_ns_per_packet_per_core": round(1e3 * cores / shared, 1),
                 "per_cpu_ns_per_packet_per_core": round(1e3 * cores / per_cpu, 1),
                 "shared_samples": [round(v, 3) for v in samples[("shared", cores)]],
                 "per_cpu_samples": [round(v, 3) for v in samples[("per_cpu", cores)]]})
print(f"New flows on a full table ({flows} flows through {table} entries: every packet a new flow that evicts), "
      f"64-byte UDP/IPv4, live frames through veth, {seconds:g} s per run, best of rounds")
print(f"{'cores':>5} {'shared Mpps':>11} {'per_cpu Mpps':>12} {'ratio':>6} {'ns/pkt shared':>13} {'per_cpu':>8}")
for r in rows:
    print(f"{r['cores']:>5} {r['shared_mpps']:>11.3f} {r['per_cpu_mpps']:>12.3f} {r['shared_to_per_cpu']:>6.2f} "
          f"{r['shared_ns_per_packet_per_core']:>13.1f} {r['per_cpu_ns_per_packet_per_core']:>8.1f}")
print("ns/pkt: CPU time per packet on each core (cores / Mpps), generator included")
doc = {"benchmark": "churn", "commit": commit,
       "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
       "kernel": platform.release(), "flows": flows, "table_max_entries": table, "seconds_per_run": seconds,
       "statistic": "best of rounds (the machine is shared)", "table": rows}
with open(out, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
print(f"wrote {out}")
PY
