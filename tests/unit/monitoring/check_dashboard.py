#!/usr/bin/python3
"""Validates packaging/grafana/xlb-dashboard.json without a Grafana (Debian 12 has none):
the dashboard model's structure (the fields Grafana's import needs, unique ids, a grid that fits
24 columns without overlaps), every PromQL expression parsed by promtool, and every metric name
it (and packaging/prometheus/xlb-alerts.yml) uses exported by xlbd: against the metric families
in xlbd's sources, or with --metrics FILE against a live /metrics page.
usage: check_dashboard.py SOURCE_DIR [--metrics FILE]"""
import json
import os
import re
import subprocess
import sys
import tempfile

PANEL_TYPES = {"row", "timeseries", "state-timeline", "stat", "gauge", "table", "bargauge", "text"}
METRIC = re.compile(r"\b(xlb_[a-z0-9_]+)\b")
problems = []


def problem(text):
    problems.append(text)


def check_structure(dash):
    for key, kind in (("title", str), ("uid", str), ("schemaVersion", int), ("panels", list), ("templating", dict)):
        if not isinstance(dash.get(key), kind):
            problem(f"dashboard: '{key}' missing or not a {kind.__name__}")
    variables = {v.get("name") for v in dash.get("templating", {}).get("list", [])}
    for needed in ("datasource", "node"):
        if needed not in variables:
            problem(f"dashboard: no template variable ${needed}")
    ids, cells = set(), {}
    for p in dash.get("panels", []):
        pid = p.get("id")
        if not isinstance(pid, int) or pid in ids:
            problem(f"panel {p.get('title')!r}: id {pid!r} missing or repeated")
        ids.add(pid)
        if p.get("type") not in PANEL_TYPES:
            problem(f"panel {pid}: unknown type {p.get('type')!r}")
        g = p.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in "hwxy") or g["x"] < 0 or g["w"] < 1 or g["x"] + g["w"] > 24:
            problem(f"panel {pid}: gridPos {g} does not fit 24 columns")
            continue
        for row in range(g["y"], g["y"] + g["h"]):
            for col in range(g["x"], g["x"] + g["w"]):
                if (row, col) in cells:
                    problem(f"panel {pid} overlaps panel {cells[(row, col)]} at row {row}, column {col}")
                cells[(row, col)] = pid
        if p["type"] == "row":
            continue
        if not p.get("title"):
            problem(f"panel {pid}: no title")
        if p.get("datasource", {}).get("uid") != "${datasource}":
            problem(f"panel {pid}: datasource is not the $datasource variable")
        targets = p.get("targets", [])
        if not targets:
            problem(f"panel {pid}: no query")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs) or None in refs:
            problem(f"panel {pid}: refIds {refs} missing or repeated")
        for t in targets:
            if "$node" not in t.get("expr", ""):
                problem(f"panel {pid}: {t.get('expr')!r} ignores the $node variable")


def expressions(dash, rules_text):
    out = []
    for p in dash.get("panels", []):
        out += [(f"panel {p['id']} ({p['title']})", t["expr"]) for t in p.get("targets", [])]
    out += [(f"annotation {a['name']}", a["expr"]) for a in dash.get("annotations", {}).get("list", []) if "expr" in a]
    out += [("alert rules", e) for e in re.findall(r"expr: *(?:\|\n)?(.+?)\n *(?:for|labels):", rules_text, re.S)]
    return out


def check_promql(exprs):
    """promtool parses each expression as a recording rule (Grafana's variables made concrete)."""
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for i, (_, e) in enumerate(exprs):
        concrete = e.replace("$__rate_interval", "1m").replace("$node", ".*").replace("\n", " ")
        lines += [f"      - record: dashboard:expr_{i}", f"        expr: {json.dumps(concrete)}"]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    try:
        r = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True, text=True)
        if r.returncode != 0:
            problem("promtool cannot parse an expression:\n" + r.stdout + r.stderr)
    finally:
        os.unlink(f.name)


def exported_from_sources(source_dir):
    names = set()
    for sub in ("ctrl/daemon", "ctrl/api"):
        for name in os.listdir(os.path.join(source_dir, sub)):
            if name.endswith(".cpp"):
                text = open(os.path.join(source_dir, sub, name)).read()
                names |= set(re.findall(r'family\(\s*"(xlb_[a-z0-9_]+)"', text))
    return names


def exported_from_page(path):
    names = set()
    for line in open(path):
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            names.add(m.group(1))
    return names


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    source_dir = args[0]
    live = args[args.index("--metrics") + 1] if "--metrics" in args else None
    dash = json.load(open(os.path.join(source_dir, "packaging/grafana/xlb-dashboard.json")))
    rules_text = open(os.path.join(source_dir, "packaging/prometheus/xlb-alerts.yml")).read()
    check_structure(dash)
    exprs = expressions(dash, rules_text)
    check_promql(exprs)
    exported = exported_from_page(live) if live else exported_from_sources(source_dir)
    used = set()
    for where, e in exprs:
        for name in METRIC.findall(e):
            used.add(name)
            if name not in exported:
                problem(f"{where}: {name} is not exported by xlbd ({'live /metrics' if live else 'sources'})")
    print(f"{len(exprs)} expressions, {len(used)} metrics, all exported"
          f" ({'live /metrics: ' + live if live else 'xlbd sources'})" if not problems else "", end="")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
