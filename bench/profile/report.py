#!/usr/bin/python3
"""Turns the profiled cases (one "program flows pktgen-summary.json perf-report" per stdin line)
into a table of ns/packet per part of the path, and bench/results/profile.json."""
import argparse
import datetime
import json
import os
import platform
import re
import sys

# Parts of the path, by the leaf symbol a sample landed in; the first match wins.
PARTS = [
    ("program", r"^bpf_prog_[0-9a-f]+_xlb_(balancer|minimal)$"),
    ("table", r"lookup_nulls_elem_raw|htab_|bpf_lru|prealloc_lru|^memcmp$|jhash"),
    ("clock", r"ktime|timespec"),
    ("generator", r"xlb_pktgen|xdp_test_run|bpf_test_|bpf_prog_test_run"),
    ("veth+xdp", r"veth_|xdp|page_pool|^bq_|dev_map|devmap|spin|__rcu|bpf_dispatcher|netmem"),
]
PART_NAMES = [name for name, _ in PARTS] + ["other"]
LINE = re.compile(r"^\s*([0-9.]+)%\s+\[[^\]]+\]\s+(\S+)")


def part_of(symbol):
    for name, pattern in PARTS:
        if re.search(pattern, symbol):
            return name
    return "other"


def read_report(path):
    symbols = []
    with open(path) as fh:
        for line in fh:
            m = LINE.match(line)
            if m:
                symbols.append((m.group(2), float(m.group(1))))
    return symbols


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--commit", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    cases = []
    for line in sys.stdin:
        if not line.strip():
            continue
        program, flows, summary_path, report_path = line.split()
        with open(summary_path) as fh:
            summary = json.load(fh)
        mpps = summary["sink"]["mpps"]
        ns = 1e3 / mpps if mpps else None
        symbols = read_report(report_path)
        total = sum(share for _, share in symbols) or 1.0
        parts = {name: 0.0 for name in PART_NAMES}
        for symbol, share in symbols:
            parts[part_of(symbol)] += share / total
        top = sorted(symbols, key=lambda s: -s[1])[:10]
        cases.append({
            "program": program,
            "flows": int(flows),
            "forwarded_mpps": round(mpps, 3),
            "ns_per_packet": round(ns, 1) if ns else None,
            "parts_ns": {k: round(v * ns, 1) for k, v in parts.items()} if ns else None,
            "parts_share": {k: round(v, 3) for k, v in parts.items()},
            "top_symbols": [{"symbol": s, "share": round(share / total, 3),
                             "ns": round(share / total * ns, 1) if ns else None} for s, share in top],
        })

    print("profile: ns/packet on the CPU that generates and forwards (perf cpu-clock samples x measured rate)")
    header = "%-22s %7s %6s" % ("case", "Mpps", "ns") + "".join(" %9s" % n for n in PART_NAMES)
    print(header)
    for c in cases:
        label = "%s, %d flow%s" % (c["program"], c["flows"], "" if c["flows"] == 1 else "s")
        cells = "".join(" %9.1f" % c["parts_ns"][n] for n in PART_NAMES) if c["parts_ns"] else ""
        print("%-22s %7.2f %6.1f%s" % (label, c["forwarded_mpps"], c["ns_per_packet"] or 0, cells))
    for c in cases:
        if c["program"] != "balancer":
            continue
        print("top symbols, balancer, %d flow(s):" % c["flows"])
        for s in c["top_symbols"][:6]:
            print("  %5.1f%%  %6.1f ns  %s" % (100 * s["share"], s["ns"] or 0, s["symbol"]))

    doc = {
        "benchmark": "profile",
        "commit": args.commit,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "kernel": platform.release(),
        "cpus_online": os.cpu_count(),
        "method": "perf record -e cpu-clock on CPU 0 while xlb-pktgen (CPU 0) sends 64-byte UDP frames "
                  "through the forwarding lab; samples of comm xlb-pktgen only, grouped by leaf symbol",
        "parts": {name: pattern for name, pattern in PARTS},
        "cases": cases,
    }
    with open(args.out, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
