# Sourced by the live-frames benchmarks (bench/forwarding, bench/profile): the two-namespace
# veth lab that xlb-pktgen drives.
#
#   gen namespace                         lb namespace
#   xlb-pktgen --dev G  ==== veth ====  L: xlb_balancer (or a baseline), XDP native
#   sink (count + drop) on G  <== XDP_TX ==
#
# The caller sets `build` (a build directory), calls fwd_begin, then fwd_lab_up with the
# programs it wants.

fwd_suffix=$$
# The runs' shape, the same for every benchmark on this lab (the environment overrides it).
fwd_seconds=${FWD_SECONDS:-2}  # per measured run
fwd_repeat=${FWD_REPEAT:-3}    # rounds; the best counts
fwd_flows=${FWD_FLOWS:-1000000}  # the many-flows case
fwd_gen_ns=xlbfwd-gen-$fwd_suffix
fwd_lb_ns=xlbfwd-lb-$fwd_suffix
fwd_pktgen=$build/tools/pktgen/xlb-pktgen
fwd_target=$build/tools/pktgen/xlb-pktgen-target
fwd_target_pids=()
declare -A fwd_gen_if fwd_lb_if fwd_gen_mac fwd_lb_mac

fwd_require() {
  local bin
  for bin in "$fwd_pktgen" "$fwd_target"; do
    [[ -x $bin ]] || { echo "$1: $bin is missing (build the xlb-pktgen targets)" >&2; exit 1; }
  done
  [[ $(id -u) == 0 ]] || { echo "$1: needs root (namespaces, XDP)" >&2; exit 1; }
}

# Ends the targets this script started and removes both namespaces (and with them the veths).
fwd_lab_down() {
  local pid
  for pid in "${fwd_target_pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  fwd_target_pids=()
  ip netns del "$fwd_gen_ns" 2>/dev/null || true
  ip netns del "$fwd_lb_ns" 2>/dev/null || true
}

# One veth pair per program, so that programs can be measured turn about: the machine's load
# then weighs on all of them alike.
fwd_lab_up() {  # program...
  local program pair
  ip netns add "$fwd_gen_ns"
  ip netns add "$fwd_lb_ns"
  for program in "$@"; do
    fwd_gen_if[$program]=xf${program:0:1}g$fwd_suffix
    fwd_lb_if[$program]=xf${program:0:1}l$fwd_suffix
    # Two queues each way: veth picks the peer's queue by sending CPU, so two cores do not
    # serialise on one ring.
    ip link add "${fwd_gen_if[$program]}" numtxqueues 2 numrxqueues 2 netns "$fwd_gen_ns" type veth \
      peer name "${fwd_lb_if[$program]}" numtxqueues 2 numrxqueues 2 netns "$fwd_lb_ns"
    for pair in "$fwd_gen_ns ${fwd_gen_if[$program]}" "$fwd_lb_ns ${fwd_lb_if[$program]}"; do
      set -- $pair
      # No IPv6 on the lab links: router solicitations would be counted as forwarded frames.
      ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
      ip -n "$1" link set "$2" up
    done
    fwd_gen_mac[$program]=$(ip netns exec "$fwd_gen_ns" cat "/sys/class/net/${fwd_gen_if[$program]}/address")
    fwd_lb_mac[$program]=$(ip netns exec "$fwd_lb_ns" cat "/sys/class/net/${fwd_lb_if[$program]}/address")
  done
}

# Asks xlb-pktgen whether the kernel runs live frames here, as the runs will use them (from the
# generator's namespace, out of the first pair's veth). Where it refuses, nothing can be
# measured on this machine: the benchmark says so with the generator's own sentence and ends
# with status 0 (a fact about the host, not a failure of the code under test).
fwd_probe_live_frames() {  # benchmark-name pair
  local status=0 reason
  reason=$(ip netns exec "$fwd_gen_ns" "$fwd_pktgen" --probe --dev "${fwd_gen_if[$2]}" 2>&1 >/dev/null) || status=$?
  ((status == 0)) && return 0
  if ((status == 3)); then
    echo "$1: not measurable here: ${reason#xlb-pktgen: }" >&2
    exit 0
  fi
  echo "$1: xlb-pktgen --probe failed ($status): $reason" >&2
  exit 1
}

# The core counts a benchmark measures: 1, and 2 where the machine has them.
fwd_core_counts() {
  if (($(nproc) >= 2)); then echo "1 2"; else echo 1; fi
}

# Checks what the benchmark needs, makes its scratch folder ($work), and takes the lab down and
# removes the folder however the script ends; with a second argument that is not empty, the
# folder is kept (and named) instead.
fwd_begin() {  # benchmark-name [keep]
  fwd_require "$1"
  work=$(mktemp -d "/tmp/xlb-$1.XXXXXX")
  fwd_keep=${2:-}
  trap 'fwd_lab_down; if [[ -n $fwd_keep ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi' EXIT
  trap 'exit 130' INT TERM
}

# Attaches the program under test on the LB end of a pair: the pair's name says which (minimal,
# table for the table baseline, any other name the balancer; further arguments go to
# xlb-pktgen-target). One UDP VIP 198.18.1.1:80 with 4 reals whose MAC is the generator's, so that
# every forwarded frame comes back to the sink.
fwd_start_target() {  # pair max-flows [xlb-pktgen-target args...]
  local pair=$1 max_flows=$2 out=$work/target-$1.out program
  shift 2
  case $pair in
    minimal) program=minimal ;;
    table) program=minimal_table ;;
    *) program=balancer ;;
  esac
  ip netns exec "$fwd_lb_ns" "$fwd_target" --dev "${fwd_lb_if[$pair]}" --program "$program" --vip 198.18.1.1 \
    --port 80 --proto udp --reals 4 --real-mac "${fwd_gen_mac[$pair]}" --max-flows "$max_flows" "$@" \
    >"$out" 2>"$work/target-$pair.err" &
  local pid=$!
  fwd_target_pids+=("$pid")
  for _ in $(seq 100); do
    grep -q '"ready"' "$out" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "xlb-pktgen-target ($pair) did not come up:" >&2
  cat "$work/target-$pair.err" >&2
  exit 1
}

fwd_gen() {  # program output-file pktgen-args...
  local program=$1 out=$2
  shift 2
  ip netns exec "$fwd_gen_ns" "$fwd_pktgen" --dev "${fwd_gen_if[$program]}" --sink-dev "${fwd_gen_if[$program]}" \
    --dst 198.18.1.1 --dport 80 --proto udp --dst-mac "${fwd_lb_mac[$program]}" --quiet "$@" >"$out" 2>"$out.err" || {
    echo "xlb-pktgen failed:" >&2
    cat "$out.err" >&2
    exit 1
  }
}
