#!/usr/bin/env bash
# Runs every benchmark against a build and leaves their results (JSON) in bench/results/.
# Usage: bench/run.sh BUILD_DIR [NAME...]   (root: loads BPF programs, mounts private bpffs)
# NAME: run only these benchmarks (packet_cost, or a folder bench/NAME with a run.sh).
# Each bench/<name>/run.sh present is run as `bench/<name>/run.sh BUILD_DIR`; one that fails
# is reported and the others still run; the exit status says whether any failed.
# Every benchmark that succeeds and rewrites bench/results/<name>.json gets one line in
# bench/results/history.jsonl (commit, date, kernel, headline figures): bench/history.py shows it.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd) || { echo "bench: no build directory ${1:-}" >&2; exit 2; }
mkdir -p "$repo/bench/results"
commit=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$repo" status --porcelain -- bpf include 2>/dev/null) ]]; then
  commit="$commit+dirty"  # the BPF sources differ from the commit: say so in the results
fi
shift $(($# > 0 ? 1 : 0))
only=("$@")
wanted() {
  ((${#only[@]} == 0)) && return 0
  local n
  for n in "${only[@]}"; do [[ $n == "$1" ]] && return 0; done
  return 1
}
failed=()
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT

# One history line for a benchmark whose results file this run wrote.
record() {
  local name=$1 result="$repo/bench/results/$1.json"
  if [[ -f $result && $result -nt $stamp ]]; then
    python3 "$here/history.py" append "$name" "$result" --commit "$commit" || echo "bench: no history line for $name" >&2
  fi
}

if wanted packet_cost; then
  echo "== packet_cost"
  if "$build/bench/packet_cost/xlb-bench-packet-cost" --json "$repo/bench/results/packet_cost.json" \
    --commit "$commit"; then
    record packet_cost
  else
    failed+=(packet_cost)
  fi
fi

for script in "$here"/*/run.sh; do
  [[ -x $script ]] || continue
  name=$(basename "$(dirname "$script")")
  wanted "$name" || continue
  echo "== $name"
  if BENCH_COMMIT="$commit" "$script" "$build"; then
    record "$name"
  else
    failed+=("$name")
  fi
done

if ((${#failed[@]})); then
  echo "bench: failed: ${failed[*]}" >&2
  exit 1
fi
echo "bench: results in $repo/bench/results/"
