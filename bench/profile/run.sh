#!/bin/bash
# Where a forwarded packet's time goes: perf samples (cpu-clock, so it works in VMs without
# hardware counters) of the CPU that runs xlb-pktgen and, on veth, also the LB's NAPI, while
# the balancer forwards 1 flow and FWD_FLOWS flows (the forwarding benchmark's lab and table
# fill), and the minimal program 1 flow. Each symbol's share of the samples times the measured
# ns/packet gives its ns/packet: the table says which code to shorten, where the forwarding
# benchmark only says how much is to gain.
#
# Usage: bench/profile/run.sh BUILD_DIR     (root; needs perf: Debian package linux-perf)
#   PROFILE_SECONDS=3 per case, FWD_FLOWS=1000000. Writes bench/results/profile.json
#   (or $PROFILE_JSON).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
seconds=${PROFILE_SECONDS:-3}
out_json=${PROFILE_JSON:-$repo/bench/results/profile.json}
max_flows=2097152  # as bench/forwarding: room for 1M flows

if ! command -v perf >/dev/null; then
  echo "profile: perf is not installed (Debian package linux-perf): nothing measured" >&2
  exit 1
fi
. "$repo/bench/forwarding/lab.sh"
fwd_begin profile "${PROFILE_KEEP:-}"

fwd_lab_up minimal balancer
fwd_probe_live_frames profile minimal
fwd_start_target minimal "$max_flows"
fwd_start_target balancer "$max_flows"
fwd_gen balancer "$work/fill.json" --cpus 0 --flows "$fwd_flows" --src-addrs 16 --count "$fwd_flows"

cases=()
for spec in "minimal 1" "balancer 1" "balancer $fwd_flows"; do
  set -- $spec
  program=$1 flows=$2
  name=$program-$flows
  # Every CPU is recorded (perf sees a process's name only from an event on the CPU it ran
  # on); the report keeps CPU 0, where the generator thread also runs the LB's NAPI, and
  # only that thread's samples (comm xlb-pktgen), not other processes'.
  perf record -q -e cpu-clock -F 10000 -a -o "$work/$name.data" -- sleep "$seconds" 2>"$work/$name.perf.err" &
  perf_pid=$!
  fwd_gen "$program" "$work/$name.json" --cpus 0 --flows "$flows" --src-addrs 16 --size 64 --warmup 0.2 \
    --duration "$(python3 -c "print($seconds - 0.4)")"
  wait "$perf_pid" || { echo "profile: perf record failed:" >&2; cat "$work/$name.perf.err" >&2; exit 1; }
  perf report -i "$work/$name.data" --stdio --no-children --sort sym -g none --cpu 0 --comm xlb-pktgen \
    >"$work/$name.report" 2>/dev/null
  cases+=("$program $flows $work/$name.json $work/$name.report")
  echo "  profiled $program, $flows flow(s)" >&2
done

printf '%s\n' "${cases[@]}" | python3 "$here/report.py" \
  --commit "${BENCH_COMMIT:-$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)}" --out "$out_json"
