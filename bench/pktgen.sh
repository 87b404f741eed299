#!/bin/bash
# Kernel pktgen (the module users benchmark edge balancers with), for machines that have it.
# One pktgen thread per CPU listed, UDP/IPv4 to DST through DEV, source ports varied over FLOWS.
#
# Usage: bench/pktgen.sh DEV DST_IP DST_MAC [SECONDS=10] [SIZE=64] [CPUS=0] [FLOWS=1024]
#   e.g. bench/pktgen.sh eth1 198.18.1.1 0c:42:a1:00:00:01 10 64 0,1
# Without the module (this project's lab kernel is built without CONFIG_NET_PKTGEN) it says so
# and exits 0: use tools' xlb-pktgen (live frames) instead, as bench/forwarding/run.sh does.
set -euo pipefail

pg=/proc/net/pktgen
if [[ ! -d $pg ]]; then
  modprobe pktgen 2>/dev/null || true
fi
if [[ ! -e $pg/pgctrl ]]; then
  echo "pktgen.sh: the kernel pktgen module is not available on $(uname -r) ($pg does not exist and" \
    "'modprobe pktgen' found no module); nothing measured. Use xlb-pktgen (build/tools/pktgen/xlb-pktgen)" \
    "or bench/forwarding/run.sh instead."
  exit 0
fi

if (($# < 3)); then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
dev=$1 dst=$2 dst_mac=$3
seconds=${4:-10} size=${5:-64} cpus=${6:-0} flows=${7:-1024}
[[ -e /sys/class/net/$dev ]] || { echo "pktgen.sh: no interface $dev" >&2; exit 1; }

pgset() {  # file command
  echo "$2" >"$1"
  # pktgen reports a rejected command in the file's "Result:" line, not as a write error.
  if grep -q '^Result: [^O]' "$1" 2>/dev/null; then
    echo "pktgen.sh: '$2' on $1: $(grep '^Result:' "$1")" >&2
    exit 1
  fi
}

IFS=, read -r -a cpu_list <<<"$cpus"
devices=()
cleanup() {
  echo stop >"$pg/pgctrl" 2>/dev/null || true
  for cpu in "${cpu_list[@]}"; do
    [[ -e $pg/kpktgend_$cpu ]] && echo rem_device_all >"$pg/kpktgend_$cpu" 2>/dev/null || true
  done
}
trap cleanup EXIT

echo reset >"$pg/pgctrl"
for cpu in "${cpu_list[@]}"; do
  thread=$pg/kpktgend_$cpu
  [[ -e $thread ]] || { echo "pktgen.sh: no pktgen thread for CPU $cpu" >&2; exit 1; }
  pgset "$thread" rem_device_all
  pgset "$thread" "add_device $dev@$cpu"
  d=$pg/$dev@$cpu
  devices+=("$d")
  pgset "$d" "count 0"          # until stopped
  pgset "$d" "clone_skb 1000"   # reuse each skb: measures the path, not the allocator
  pgset "$d" "burst 32"
  pgset "$d" "pkt_size $((size - 4))"  # pktgen's size excludes the FCS
  pgset "$d" "delay 0"
  pgset "$d" "queue_map_min $cpu"
  pgset "$d" "queue_map_max $cpu"
  pgset "$d" "dst $dst"
  pgset "$d" "dst_mac $dst_mac"
  pgset "$d" "udp_dst_min 80"
  pgset "$d" "udp_dst_max 80"
  pgset "$d" "udp_src_min 1024"
  pgset "$d" "udp_src_max $((1024 + flows - 1))"
  pgset "$d" "flag UDPSRC_RND"
done

echo "pktgen.sh: $dev, ${#cpu_list[@]} thread(s), ${size}-byte frames, $flows flows, ${seconds}s" >&2
echo start >"$pg/pgctrl" &
starter=$!
sleep "$seconds"
echo stop >"$pg/pgctrl"
wait "$starter" || true

total_pps=0
for d in "${devices[@]}"; do
  result=$(grep -A2 '^Result:' "$d" | tr '\n' ' ')
  echo "$(basename "$d"): $result"
  pps=$(grep -o '[0-9]*pps' "$d" | head -1 | tr -d 'pps')
  total_pps=$((total_pps + ${pps:-0}))
done
awk -v pps="$total_pps" -v size="$size" \
  'BEGIN { printf "total: %.3f Mpps, %.3f Gbit/s\n", pps / 1e6, pps * size * 8 / 1e9 }'
