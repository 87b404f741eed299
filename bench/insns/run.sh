#!/usr/bin/env bash
# bench/insns/run.sh BUILD_DIR: instruction counts of the hot paths, so that regressions show
# without timing noise. BPF: the verifier's and the JIT's figures for every program (root).
# User space: valgrind --tool=callgrind instruction reads (Ir) per operation of config
# parsing, ring building, flow-sync encode/decode and health-check result handling.
# Prints a table and writes bench/results/insns.json.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
out=${INSNS_JSON:-$repo/bench/results/insns.json}
bin=$build/bench/insns/xlb-bench-insns
command -v valgrind >/dev/null || { echo "insns: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin" bpf >"$tmp/bpf.json"

# Iterations per operation: enough to average out, few enough for valgrind's pace.
declare -A iterations=([config-parse]=3 [ring-wrr]=20 [ring-maglev]=10 [sync-encode]=1000 [sync-decode]=1000
                       [health-update]=1000)
"$bin" list >"$tmp/ops.tsv"
while IFS=$'\t' read -r op description; do
  n=${iterations[$op]:-10}
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$tmp/cg.$op" "$bin" user "$op" -n "$n" \
    >/dev/null 2>"$tmp/vg.$op.log" || { cat "$tmp/vg.$op.log" >&2; exit 1; }
  ir=$(awk '/^totals:/ {print $2; exit}' "$tmp/cg.$op")
  [[ ${ir:-0} -gt 0 ]] || { echo "insns: callgrind counted nothing for $op" >&2; exit 1; }
  printf '%s\t%s\t%s\t%s\n' "$op" "$n" "$ir" "$description" >>"$tmp/user.tsv"
done <"$tmp/ops.tsv"

# Per-scenario BPF instruction counts would come from the PMU (perf instructions:k around
# BPF_PROG_TEST_RUN); say whether this machine has one.
pmu=absent
if command -v perf >/dev/null && perf stat -x, -e instructions:k true 2>&1 | grep -q '^[0-9]'; then pmu=present; fi

commit=${BENCH_COMMIT:-$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)}
python3 - "$tmp/bpf.json" "$tmp/user.tsv" "$out" "$commit" "$(valgrind --version)" "$pmu" <<'PY'
import datetime, json, os, platform, sys
bpf_path, user_path, out, commit, vg, pmu = sys.argv[1:7]
bpf = json.load(open(bpf_path))
user = {}
for line in open(user_path):
    op, n, ir, desc = line.rstrip("\n").split("\t", 3)
    user[op] = {"description": desc, "iterations": int(n), "ir_total": int(ir), "ir_per_op": int(ir) // int(n)}
print("BPF programs (verifier and JIT, as loaded on this kernel)")
print("%-14s %10s %10s %10s %11s %8s %10s" % ("program", "verified", "processed", "xlated", "jited bytes",
                                           "states", "verify us"))
for name, p in bpf["programs"].items():
    print("%-14s %10s %10s %10s %11s %8s %10s" % (name, p["verified_insns"], p.get("processed_insns", "-"),
                                               p["xlated_insns"], p["jited_bytes"], p.get("total_states", "-"),
                                               p.get("verification_usec", "-")))
print()
print("user space, callgrind instruction reads per operation")
print("%-14s %14s  %s" % ("operation", "Ir/op", "what"))
for op, u in user.items():
    print("%-14s %14s  %s" % (op, format(u["ir_per_op"], ","), u["description"]))
doc = {"benchmark": "insns", "commit": commit,
       "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
       "kernel": platform.release(), "load_average": [float(x) for x in open("/proc/loadavg").read().split()[:3]],
       "valgrind": vg,
       "bpf": {"programs": bpf["programs"],
               "pmu": pmu,
               "scenarios_note": "per-scenario BPF instruction counts need a PMU (perf instructions:k); "
                                 "not measured"},
       "user": user}
json.dump(doc, open(out, "w"), indent=2)
open(out, "a").write("\n")
print("wrote", out)
PY
