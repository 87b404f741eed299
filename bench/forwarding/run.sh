#!/bin/bash
# Forwarding rate through the namespace lab (bench/forwarding/lab.sh), with xlb-pktgen: the
# generator's live frames leave its veth with XDP_TX, so the program on the LB end runs in
# veth's native XDP path exactly as it would on a NIC, and its XDP_TX comes back to the
# generator's veth, where xlb-pktgen's sink counts it. The forwarding rate is what the sink
# counts: frames the program under test really forwarded. On veth the receiving NAPI runs on
# the sending CPU, so each core carries both the generator and the LB; the minimal program on
# the same path is the yardstick. The table baseline (the minimal program plus a lookup, and an
# insert when new, in a connection table sized as the balancer's) runs beside them: what the
# kernel's table costs by itself with one flow and with many.
#
# Usage: bench/forwarding/run.sh BUILD_DIR     (root)
#   FWD_SECONDS=2 per run, FWD_REPEAT=3 rounds (the table shows the best), FWD_FLOWS=1000000.
# The three programs sit on three veth pairs and are measured turn about, configuration by
# configuration. Prints a table, writes bench/results/forwarding.json (or $FWD_JSON).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
out_json=${FWD_JSON:-$repo/bench/results/forwarding.json}
max_flows=2097152  # 2^21: 1M flows with room to spare (with per_cpu LRU lists, each CPU's half would hold them)

. "$here/lab.sh"
fwd_begin forwarding
core_counts=$(fwd_core_counts)

fwd_lab_up minimal table balancer
fwd_probe_live_frames forwarding minimal

cpu_list() { seq -s, 0 $(($1 - 1)); }

fwd_start_target minimal "$max_flows"
fwd_start_target table "$max_flows"
fwd_start_target balancer "$max_flows"
# Fill the connection tables once so that the measured runs take the established path.
for program in table balancer; do
  fwd_gen "$program" "$work/warmup-$program.json" --cpus 0 --flows "$fwd_flows" --src-addrs 16 --count "$fwd_flows"
done

runs=()
for rep in $(seq "$fwd_repeat"); do
  for size in 64 1500; do
    for cores in $core_counts; do
      for flows in 1 "$fwd_flows"; do
        for program in minimal table balancer; do
          result=$work/$program-$size-$cores-$flows-$rep.json
          fwd_gen "$program" "$result" --cpus "$(cpu_list "$cores")" --flows "$flows" --src-addrs 16 --size "$size" \
            --warmup 0.5 --duration "$fwd_seconds"
          runs+=("$program $size $cores $flows $rep $result")
        done
        printf '  round %s/%s: %5s B  %s core(s)  %8s flow(s)\n' "$rep" "$fwd_repeat" "$size" "$cores" "$flows" >&2
      done
    done
  done
done
fwd_lab_down

printf '%s\n' "${runs[@]}" | python3 "$here/report.py" --commit "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --counters "$work/target-balancer.out" --seconds "$fwd_seconds" --out "$out_json"
