#!/bin/bash
# Forwarding rate through the namespace lab, with xlb-pktgen:
#
#   gen namespace                         lb namespace
#   xlb-pktgen --dev G  ==== veth ====  L: xlb_balancer (or xlb_minimal), XDP native
#   sink (count + drop) on G  <== XDP_TX ==
#
# The generator's live frames leave G with XDP_TX, so the program on L runs in veth's native
# XDP path exactly as it would on a NIC, and its XDP_TX comes back to G, where xlb-pktgen's
# sink counts it. The forwarding rate is what the sink counts: frames the program under test
# really forwarded. On veth the receiving NAPI runs on the sending CPU, so each core carries
# both the generator and the LB; the minimal program on the same path is the yardstick.
#
# Usage: bench/forwarding/run.sh BUILD_DIR     (root)
#   FWD_SECONDS=2 per run, FWD_REPEAT=3 rounds (the table shows the best), FWD_FLOWS=1000000.
# The two programs sit on two veth pairs and are measured turn about, configuration by
# configuration. Prints a table, writes bench/results/forwarding.json (or $FWD_JSON).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
seconds=${FWD_SECONDS:-2}
repeat=${FWD_REPEAT:-3}
out_json=${FWD_JSON:-$repo/bench/results/forwarding.json}
many_flows=${FWD_FLOWS:-1000000}
max_flows=2097152  # 2^21: the per-CPU LRU lists each get half, enough for 1M flows on one CPU
pktgen=$build/tools/pktgen/xlb-pktgen
target=$build/tools/pktgen/xlb-pktgen-target

for bin in "$pktgen" "$target"; do
  [[ -x $bin ]] || { echo "forwarding: $bin is missing (build the xlb-pktgen targets)" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "forwarding: needs root (namespaces, XDP)" >&2; exit 1; }
ncpu=$(nproc)
core_counts="1"
((ncpu >= 2)) && core_counts="1 2"

suffix=$$
gen_ns=xlbfwd-gen-$suffix
lb_ns=xlbfwd-lb-$suffix
work=$(mktemp -d /tmp/xlb-forwarding.XXXXXX)
target_pids=()

cleanup() {
  for pid in "${target_pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  ip netns del "$gen_ns" 2>/dev/null || true
  ip netns del "$lb_ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$gen_ns"
ip netns add "$lb_ns"
# One veth pair per program, so that the two can be measured turn about: the machine's load
# then weighs on both alike.
declare -A gen_if lb_if gen_mac lb_mac
for program in minimal balancer; do
  gen_if[$program]=xf${program:0:1}g$suffix
  lb_if[$program]=xf${program:0:1}l$suffix
  # Two queues each way: veth picks the peer's queue by sending CPU, so two cores do not
  # serialise on one ring.
  ip link add "${gen_if[$program]}" numtxqueues 2 numrxqueues 2 netns "$gen_ns" type veth \
    peer name "${lb_if[$program]}" numtxqueues 2 numrxqueues 2 netns "$lb_ns"
  for pair in "$gen_ns ${gen_if[$program]}" "$lb_ns ${lb_if[$program]}"; do
    set -- $pair
    # No IPv6 on the lab links: router solicitations would be counted as forwarded frames.
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
    ip -n "$1" link set "$2" up
  done
  gen_mac[$program]=$(ip netns exec "$gen_ns" cat "/sys/class/net/${gen_if[$program]}/address")
  lb_mac[$program]=$(ip netns exec "$lb_ns" cat "/sys/class/net/${lb_if[$program]}/address")
done

start_target() {  # program
  ip netns exec "$lb_ns" "$target" --dev "${lb_if[$1]}" --program "$1" --vip 198.18.1.1 --port 80 --proto udp \
    --reals 4 --real-mac "${gen_mac[$1]}" --max-flows "$max_flows" >"$work/target-$1.out" 2>"$work/target-$1.err" &
  local pid=$!
  target_pids+=("$pid")
  for _ in $(seq 100); do
    grep -q '"ready"' "$work/target-$1.out" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "forwarding: xlb-pktgen-target ($1) did not come up:" >&2
  cat "$work/target-$1.err" >&2
  exit 1
}

gen() {  # program output-file pktgen-args...
  local program=$1 out=$2
  shift 2
  ip netns exec "$gen_ns" "$pktgen" --dev "${gen_if[$program]}" --sink-dev "${gen_if[$program]}" \
    --dst 198.18.1.1 --dport 80 --proto udp --dst-mac "${lb_mac[$program]}" --quiet "$@" >"$out" 2>"$out.err" || {
    echo "forwarding: xlb-pktgen failed:" >&2
    cat "$out.err" >&2
    exit 1
  }
}

cpu_list() { seq -s, 0 $(($1 - 1)); }

start_target minimal
start_target balancer
# Fill the connection table once so that the measured runs take the established path.
gen balancer "$work/warmup.json" --cpus 0 --flows "$many_flows" --src-addrs 16 --count "$many_flows"

runs=()
for rep in $(seq "$repeat"); do
  for size in 64 1500; do
    for cores in $core_counts; do
      for flows in 1 "$many_flows"; do
        for program in minimal balancer; do
          result=$work/$program-$size-$cores-$flows-$rep.json
          gen "$program" "$result" --cpus "$(cpu_list "$cores")" --flows "$flows" --src-addrs 16 --size "$size" \
            --warmup 0.5 --duration "$seconds"
          runs+=("$program $size $cores $flows $rep $result")
        done
        printf '  round %s/%s: %5s B  %s core(s)  %8s flow(s)\n' "$rep" "$repeat" "$size" "$cores" "$flows" >&2
      done
    done
  done
done
for pid in "${target_pids[@]}"; do kill "$pid"; wait "$pid" || true; done
target_pids=()

printf '%s\n' "${runs[@]}" | python3 "$here/report.py" --commit "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --counters "$work/target-balancer.out" --seconds "$seconds" --out "$out_json"
