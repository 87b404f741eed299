#!/usr/bin/env bash
# Runs every benchmark against a build and leaves their results (JSON) in bench/results/.
# Usage: bench/run.sh BUILD_DIR        (root: loads BPF programs, mounts private bpffs)
# Each bench/<name>/run.sh present is run as `bench/<name>/run.sh BUILD_DIR`; one that fails
# is reported and the others still run; the exit status says whether any failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd) || { echo "bench: no build directory ${1:-}" >&2; exit 2; }
mkdir -p "$repo/bench/results"
commit=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$repo" status --porcelain -- bpf include 2>/dev/null) ]]; then
  commit="$commit+dirty"  # the BPF sources differ from the commit: say so in the results
fi
failed=()

echo "== packet_cost"
if ! "$build/bench/packet_cost/xlb-bench-packet-cost" --json "$repo/bench/results/packet_cost.json" \
  --commit "$commit"; then
  failed+=(packet_cost)
fi

for script in "$here"/*/run.sh; do
  [[ -x $script ]] || continue
  name=$(basename "$(dirname "$script")")
  echo "== $name"
  "$script" "$build" || failed+=("$name")
done

if ((${#failed[@]})); then
  echo "bench: failed: ${failed[*]}" >&2
  exit 1
fi
echo "bench: results in $repo/bench/results/"
