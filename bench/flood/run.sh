#!/usr/bin/env bash
# bench/flood/run.sh BUILD_DIR: a flood of distinct SYN, ACK, RST, NULL and SYN+FIN tuples into an
# empty connection table (xlb-bench-flood): ns per packet beside the minimal program and the
# table baseline on the same frames, and the table entries each flood leaves.
# Writes bench/results/flood.json. Root: loads BPF programs on a private bpffs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
"$build/bench/flood/xlb-bench-flood" --json "$repo/bench/results/flood.json" --commit "${BENCH_COMMIT:-unknown}"
