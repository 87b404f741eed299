#!/usr/bin/python3
"""Turns the forwarding runs (one "program size cores flows result.json" per stdin line) into
the table on stdout and bench/results/forwarding.json."""
import argparse
import datetime
import json
import os
import platform
import sys

TARGET_RATIO = 0.9        # issue 7: at least 90% of the minimal program's rate
TARGET_MANY_FLOWS = 1.3   # issue 7: with 1M flows, per-packet cost within 1.3x of 1 flow


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--commit", required=True)
    ap.add_argument("--counters", required=True, help="xlb-pktgen-target output of the balancer run")
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    runs = []
    for line in sys.stdin:
        if not line.strip():
            continue
        program, size, cores, flows, rep, path = line.split()
        with open(path) as f:
            summary = json.load(f)
        sink = summary["sink"]
        runs.append({
            "program": program,
            "frame_size": int(size),
            "cores": int(cores),
            "flows": int(flows),
            "round": int(rep),
            "seconds": summary["seconds"],
            "generated": summary["packets"],
            "forwarded": sink["packets"],
            "tx_mpps": round(summary["mpps"], 4),
            "fwd_mpps": round(sink["mpps"], 4),
            "fwd_gbps": round(sink["mpps"] * 1e6 * int(size) * 8 / 1e9, 3),
            "lost": summary["packets"] - sink["packets"],
        })

    # The machine is shared: a round can only lose to other load, so the best round is the figure.
    samples = {}
    for r in runs:
        samples.setdefault((r["program"], r["frame_size"], r["cores"], r["flows"]), []).append(r["fwd_mpps"])
    best = {key: max(values) for key, values in samples.items()}
    one_flow = min(r["flows"] for r in runs)
    rows = []
    for (program, size, cores, flows), mpps in best.items():
        if program != "balancer":
            continue
        base = best.get(("minimal", size, cores, flows))
        single = best.get(("balancer", size, cores, one_flow))
        table = best.get(("table", size, cores, flows))
        table_single = best.get(("table", size, cores, one_flow))
        ratio = mpps / base if base else None
        # Per-packet cost relative to the 1-flow case (the issue's 1M-flows target: <= 1.3x).
        cost_vs_one = single / mpps if single and flows != one_flow else None
        # The same for the table baseline: what the kernel's table costs by itself.
        table_vs_one = table_single / table if table and table_single and flows != one_flow else None
        rows.append({
            "frame_size": size,
            "cores": cores,
            "flows": flows,
            "balancer_mpps": round(mpps, 4),
            "minimal_mpps": round(base, 4) if base is not None else None,
            "ratio": round(ratio, 3) if ratio else None,
            "target_ratio": TARGET_RATIO,
            "target_ratio_met": ratio >= TARGET_RATIO if ratio else None,
            "ns_per_packet_per_core": round(1e3 * cores / mpps, 1) if mpps else None,
            "minimal_ns_per_packet_per_core": round(1e3 * cores / base, 1) if base else None,
            "cost_vs_one_flow": round(cost_vs_one, 3) if cost_vs_one else None,
            "target_cost_vs_one_flow": TARGET_MANY_FLOWS if cost_vs_one else None,
            "target_cost_vs_one_flow_met": cost_vs_one <= TARGET_MANY_FLOWS if cost_vs_one else None,
            "table_baseline_mpps": round(table, 4) if table is not None else None,
            "table_baseline_cost_vs_one_flow": round(table_vs_one, 3) if table_vs_one else None,
            "balancer_gbps": round(mpps * 1e6 * size * 8 / 1e9, 3),
            "balancer_samples": samples[(program, size, cores, flows)],
            "minimal_samples": samples.get(("minimal", size, cores, flows), []),
            "table_baseline_samples": samples.get(("table", size, cores, flows), []),
        })
    rows.sort(key=lambda row: (row["frame_size"], row["cores"], row["flows"]))

    counters = {}
    with open(args.counters) as f:
        for line in f:
            line = line.strip()
            if line:
                event = json.loads(line)
                if event.get("event") == "exit":
                    counters = event.get("counters", {})

    print("Forwarding rate, live frames through veth (XDP native), UDP/IPv4, "
          f"{args.seconds:g} s per run after 0.5 s warm-up, best of {max(r['round'] for r in runs)} rounds; "
          "generator and LB share each core")
    print(f"{'frame':>6} {'cores':>5} {'flows':>8} {'xlb Mpps':>9} {'minimal':>9} {'ratio':>6} {'>=0.9':>6} "
          f"{'ns/pkt':>7} {'vs 1 flow':>9} {'<=1.3':>6} {'table':>7} {'vs 1':>5} {'xlb Gbit/s':>10}  xlb samples")
    for row in rows:
        def fmt(value, spec):
            return format(value, spec) if value is not None else "-"

        def met(value):
            return "-" if value is None else ("met" if value else "MISSED")

        print(f"{row['frame_size']:>6} {row['cores']:>5} {row['flows']:>8} {row['balancer_mpps']:>9.3f} "
              f"{fmt(row['minimal_mpps'], '.3f'):>9} {fmt(row['ratio'], '.2f'):>6} {met(row['target_ratio_met']):>6} "
              f"{fmt(row['ns_per_packet_per_core'], '.1f'):>7} {fmt(row['cost_vs_one_flow'], '.2f'):>9} "
              f"{met(row['target_cost_vs_one_flow_met']):>6} {fmt(row['table_baseline_mpps'], '.3f'):>7} "
              f"{fmt(row['table_baseline_cost_vs_one_flow'], '.2f'):>5} {row['balancer_gbps']:>10.3f}  "
              + " ".join(f"{v:.2f}" for v in row["balancer_samples"]))
    print("ns/pkt: CPU time per packet on each core (cores / Mpps), generator included; vs 1 flow: the "
          "balancer's per-packet cost with this many flows over its cost with one; table, vs 1: the table "
          "baseline's Mpps (the minimal program plus a connection-table lookup, and an insert when new) and the "
          "same ratio for it")
    lost = sum(r["lost"] for r in runs)
    drops = {k: v for k, v in counters.items() if k.startswith("drop") and v}
    print(f"frames generated but not forwarded back: {lost}; balancer counters: tx={counters.get('tx', 0)} "
          f"flow_new={counters.get('flow_new', 0)} drops={drops or 0}")

    result = {
        "benchmark": "forwarding",
        "commit": args.commit,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "kernel": platform.release(),
        "cpus_online": os.cpu_count(),
        "method": "xlb-pktgen live frames (BPF_PROG_TEST_RUN) XDP_TX out of a veth; program under test "
                  "attached in native mode on the peer, XDP_TX back; forwarded = frames counted by the "
                  "sink on the generator's veth",
        "seconds_per_run": args.seconds,
        "statistic": "best of rounds (the machine is shared)",
        "load_average": os.getloadavg(),
        "table": rows,
        "runs": runs,
        "balancer_counters": counters,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
