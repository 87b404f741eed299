#!/usr/bin/env bash
# bench/announce/run.sh BUILD_DIR: 10,000 VIP routes announced and withdrawn by xlbd's
# VipAnnouncer, against iproute2's `ip -batch` on the same routes (xlb-bench-announce), in a
# namespace of its own. Writes bench/results/announce.json. Root: a namespace, a TUN device.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
ns=xlb-bann-$(printf %x $$)
work=$(mktemp -d /tmp/xlb-bench-announce.XXXX)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" "$build/bench/announce/xlb-bench-announce" "$repo/bench/results/announce.json" "$work"
