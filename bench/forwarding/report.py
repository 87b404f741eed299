#!/usr/bin/python3
"""Turns the forwarding runs (one "program size cores flows result.json" per stdin line) into
the table on stdout and bench/results/forwarding.json."""
import argparse
import datetime
import json
import os
import platform
import statistics
import sys


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

    samples = {}
    for r in runs:
        samples.setdefault((r["program"], r["frame_size"], r["cores"], r["flows"]), []).append(r["fwd_mpps"])
    medians = {key: statistics.median(values) for key, values in samples.items()}
    rows = []
    for (program, size, cores, flows), mpps in medians.items():
        if program != "balancer":
            continue
        base = medians.get(("minimal", size, cores, flows))
        rows.append({
            "frame_size": size,
            "cores": cores,
            "flows": flows,
            "balancer_mpps": round(mpps, 4),
            "minimal_mpps": round(base, 4) if base is not None else None,
            "ratio": round(mpps / base, 3) if base else None,
            "balancer_gbps": round(mpps * 1e6 * size * 8 / 1e9, 3),
            "balancer_samples": samples[(program, size, cores, flows)],
            "minimal_samples": samples.get(("minimal", size, cores, flows), []),
        })

    counters = {}
    with open(args.counters) as f:
        for line in f:
            line = line.strip()
            if line:
                event = json.loads(line)
                if event.get("event") == "exit":
                    counters = event.get("counters", {})

    print("Forwarding rate, live frames through veth (XDP native), UDP/IPv4, "
          f"{args.seconds:g} s per run after 0.5 s warm-up, median of {max(r['round'] for r in runs)} rounds; "
          "generator and LB share each core")
    print(f"{'frame':>6} {'cores':>5} {'flows':>8} {'xlb Mpps':>9} {'minimal':>9} {'ratio':>6} {'xlb Gbit/s':>10}"
          "  xlb samples")
    for row in rows:
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        minimal = f"{row['minimal_mpps']:.3f}" if row["minimal_mpps"] is not None else "-"
        print(f"{row['frame_size']:>6} {row['cores']:>5} {row['flows']:>8} {row['balancer_mpps']:>9.3f} "
              f"{minimal:>9} {ratio:>6} {row['balancer_gbps']:>10.3f}  "
              + " ".join(f"{v:.2f}" for v in row["balancer_samples"]))
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
