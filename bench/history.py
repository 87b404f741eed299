#!/usr/bin/env python3
"""The benchmarks' history: bench/results/history.jsonl, one line per benchmark per run.

  bench/history.py append NAME RESULT.json --commit C [--history FILE]
      extract NAME's headline figures from its results file and append one line
      (commit, date, kernel, load average, benchmark, figures)
  bench/history.py [show] [--benchmark NAME] [--last N] [--history FILE]
      print the history as a table, then each figure's change between the last two runs
"""
import argparse
import datetime
import json
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_HISTORY = os.path.join(HERE, "results", "history.jsonl")


def _packet_cost(d):
    f = {}
    for r in d.get("rows", []):
        f[r["scenario"] + " ns"] = r["xlb_ns"]
        f[r["scenario"] + " x minimal"] = r["ratio"]
        if r.get("table_baseline_ns") is not None:
            f[r["scenario"] + " table baseline ns"] = r["table_baseline_ns"]
    for t in d.get("tunnel_vs_dr", []):
        f[t["name"] + " x DR"] = t["ratio"]
    for prog, s in d.get("programs", {}).items():
        f[prog + " xlated insns"] = s.get("xlated_insns")
    return f


def _tunnel_rate(d):
    f = {}
    for r in d.get("table", []):
        label = "%dB %dflow" % (r["frame_size"], r["flows"])
        f[label + " DR Mpps"] = r["dr_mpps"]
        for kind in ("ipip", "gue"):
            f[label + " " + kind + " x DR"] = r.get(kind + "_ratio")
    return f


def _forwarding(d):
    f = {}
    for r in d.get("table", []):
        label = "%dB %dcore %dflow" % (r["frame_size"], r["cores"], r["flows"])
        f[label + " Mpps"] = r["balancer_mpps"]
        f[label + " x minimal"] = r["ratio"]
        if r.get("table_baseline_mpps") is not None:
            f[label + " table baseline Mpps"] = r["table_baseline_mpps"]
    return f


def _sync(d):
    f = {}
    for r in d.get("sync", []):
        f["%d flows: flows/s" % r["flows"]] = r["flows_per_second"]
        f["%d flows: master ns/flow" % r["flows"]] = r["master_cpu_ns_per_flow"]
    rl = d.get("reload", {})
    if rl:
        f["xlbd start, %d VS ms" % rl.get("virtual_servers", 0)] = rl.get("start_ms")
        f["reload, %d VS median ms" % rl.get("virtual_servers", 0)] = rl.get("reload_median_ms")
    return f


def _scale(d):
    f = {}
    p = d.get("packet", {})
    for key, label in (("established_same_flow_repeat", "established same flow"),
                       ("established_per_packet", "established per packet"), ("new_flow", "new flow")):
        if key in p.get("ratio_full_to_one", {}):
            f["full/1-flow " + label] = p["ratio_full_to_one"][key]
            f["full table " + label + " ns"] = p["full"][key + "_ns"]
    t = p.get("table_baseline")
    if t:
        f["table baseline full/1-flow per packet"] = t["ratio_full_to_one"]
        f["table baseline full table per packet ns"] = t["full_per_packet_ns"]
    if "memory_floor" in p:
        f["random load over the flows map ns"] = p["memory_floor"]["ns_per_access_small_pages"]
    for sc, t in d.get("tables", {}).items():
        f["XdpBackend %s maps MiB" % sc] = round(t["memory"]["total_memlock_bytes"] / 1048576.0, 2)
        f["XdpBackend %s apply ms" % sc] = t["apply_all_ms"]
        f["XdpBackend %s weight ms" % sc] = t["weight_change_median_ms"]
    for name, x in d.get("xlbd", {}).items():
        if "error" in x:
            continue
        f["xlbd %s start ms" % name] = x["start_ms_best"]
        f["xlbd %s weight ms" % name] = x["weight_command"]["maps_ms_best"]
        f["xlbd %s maps MiB" % name] = round(x["memory"]["total_memlock_bytes"] / 1048576.0, 2)
    return f


def _insns(d):
    f = {}
    for prog, s in d.get("bpf", {}).get("programs", {}).items():
        for k in ("verified_insns", "xlated_insns", "jited_bytes"):
            if k in s:
                f["%s %s" % (prog, k)] = s[k]
    for name, s in d.get("bpf", {}).get("scenarios", {}).items():
        if "insns_per_packet" in s:
            f["bpf %s insns/packet" % name] = s["insns_per_packet"]
    for name, s in d.get("user", {}).items():
        if "ir_per_op" in s:
            f["%s Ir/op" % name] = s["ir_per_op"]
    return f


def _profile(d):
    f = {}
    for c in d.get("cases", []):
        label = "%s %dflow" % (c["program"], c["flows"])
        f[label + " ns"] = c.get("ns_per_packet")
        for part, ns in (c.get("parts_ns") or {}).items():
            f["%s %s ns" % (label, part)] = ns
    return f


def _churn(d):
    f = {}
    for r in d.get("table", []):
        f[f"shared {r['cores']}c Mpps"] = r["shared_mpps"]
        f[f"per_cpu {r['cores']}c Mpps"] = r["per_cpu_mpps"]
    return f


def _flood(d):
    f = {}
    for r in d.get("rows", []):
        f[r["kind"] + " ns"] = r.get("xlb_call_ns")
        f[r["kind"] + " entries"] = r.get("table_entries_after")
    return f


EXTRACT = {"churn": _churn, "flood": _flood, "packet_cost": _packet_cost, "forwarding": _forwarding, "sync": _sync, "scale": _scale, "insns": _insns,
           "profile": _profile, "tunnel_rate": _tunnel_rate}


def _generic(d, prefix=""):
    """Numbers at the top level (and one level down) of an unknown benchmark's results."""
    f = {}
    for k, v in d.items():
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            f[prefix + k] = v
        elif isinstance(v, dict) and not prefix:
            f.update(_generic(v, k + " "))
    return f


def headline(name, doc):
    figures = EXTRACT.get(name, _generic)(doc)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in figures.items() if v is not None}


def append(args):
    with open(args.result) as fh:
        doc = json.load(fh)
    with open("/proc/loadavg") as fh:
        load = [float(x) for x in fh.read().split()[:3]]
    line = {
        "commit": args.commit,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "kernel": platform.release(),
        "load_average": load,
        "benchmark": args.name,
        "result_commit": doc.get("commit"),
        "figures": headline(args.name, doc),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.history)), exist_ok=True)
    with open(args.history, "a") as fh:
        fh.write(json.dumps(line, sort_keys=True) + "\n")
    print("history: %s, %d figures appended to %s" % (args.name, len(line["figures"]), args.history))


def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.4g" % v
    return str(v)


def show(args):
    if not os.path.exists(args.history):
        print("no history yet (%s)" % args.history)
        return
    runs = {}
    with open(args.history) as fh:
        for n, text in enumerate(fh, 1):
            text = text.strip()
            if not text:
                continue
            try:
                line = json.loads(text)
            except ValueError:
                print("%s:%d: not JSON, skipped" % (args.history, n), file=sys.stderr)
                continue
            if args.benchmark and line.get("benchmark") != args.benchmark:
                continue
            runs.setdefault(line["benchmark"], []).append(line)
    for name, lines in sorted(runs.items()):
        lines = lines[-args.last:]
        print("== %s (%d run%s shown)" % (name, len(lines), "" if len(lines) == 1 else "s"))
        heads = ["%s %s" % (l["commit"][:10], l["date"][5:16]) for l in lines]
        figures = []
        for l in lines:
            for k in l["figures"]:
                if k not in figures:
                    figures.append(k)
        width = max([len(k) for k in figures] + [6])
        print("%-*s  %s" % (width, "figure", "  ".join("%-17s" % h for h in heads)))
        for k in figures:
            print("%-*s  %s" % (width, k, "  ".join("%-17s" % _fmt(l["figures"].get(k)) for l in lines)))
        if len(lines) >= 2:
            a, b = lines[-2], lines[-1]
            print("-- change %s -> %s" % (a["commit"][:10], b["commit"][:10]))
            for k in figures:
                va, vb = a["figures"].get(k), b["figures"].get(k)
                if isinstance(va, (int, float)) and isinstance(vb, (int, float)) and va != vb:
                    pct = "%+.1f%%" % ((vb - va) * 100.0 / va) if va else "new"
                    print("%-*s  %s -> %s  (%s)" % (width, k, _fmt(va), _fmt(vb), pct))
        print()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--history", default=DEFAULT_HISTORY)
    sub = ap.add_subparsers(dest="cmd")
    a = sub.add_parser("append")
    a.add_argument("name")
    a.add_argument("result")
    a.add_argument("--commit", required=True)
    a.add_argument("--history", default=argparse.SUPPRESS)
    s = sub.add_parser("show")
    for p in (ap, s):
        p.add_argument("--benchmark", default=argparse.SUPPRESS if p is s else None)
        p.add_argument("--last", type=int, default=argparse.SUPPRESS if p is s else 6)
    s.add_argument("--history", default=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cmd == "append":
        append(args)
    else:
        show(args)


if __name__ == "__main__":
    main()
