#!/usr/bin/python3
"""Validates packaging/grafana/xlb-dashboard.json without a Grafana (Debian 12 has none):
the dashboard model's structure (the fields Grafana's import needs: the data source input and
variables, panels with their field config, options and targets, unique ids, rows over the
panels they head, a grid that fits 24 columns without overlaps), every PromQL expression parsed
by promtool, and every metric name it (and packaging/prometheus/xlb-alerts.yml) uses exported by
xlbd: against the metric families in xlbd's sources, or with --metrics FILE against a live
/metrics page. With --prometheus URL (a real Prometheus scraping a live xlbd), every query is
run as Grafana would run it ($node from the node variable's own query, $__rate_interval as
--rate-interval) and must return series, carrying the labels its legend names.
Without promtool (Debian package prometheus) the expressions are not parsed, and it says so.
--no-parse: leave promtool's parse out (the unit test has run it).
usage: check_dashboard.py SOURCE_DIR [--dashboard FILE] [--no-parse] [--metrics FILE] [--prometheus URL [--rate-interval 15s]]"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

PANEL_TYPES = {"row", "timeseries", "state-timeline", "stat", "gauge", "table", "bargauge", "text"}
# Grafana's unit ids the dashboard may use (Grafana's valueFormats; an unknown id shows raw numbers).
UNITS = {"short", "none", "percent", "percentunit", "pps", "Bps", "bps", "cps", "ops", "reqps", "s", "ms", "bytes"}
# The schema versions of the Grafana releases the model was written for (9.x to 10.x).
SCHEMA_VERSIONS = range(36, 40)
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
LEGEND_LABEL = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
METRIC = re.compile(r"\b(xlb_[a-z0-9_]+)\b")
problems = []


def problem(text):
    problems.append(text)


def check_structure(dash):
    for key, kind in (("title", str), ("uid", str), ("schemaVersion", int), ("panels", list), ("templating", dict)):
        if not isinstance(dash.get(key), kind):
            problem(f"dashboard: '{key}' missing or not a {kind.__name__}")
    if dash.get("schemaVersion") not in SCHEMA_VERSIONS:
        problem(f"dashboard: schemaVersion {dash.get('schemaVersion')} is not one of {list(SCHEMA_VERSIONS)}")
    if not any(i.get("type") == "datasource" and i.get("pluginId") == "prometheus" for i in dash.get("__inputs", [])):
        problem("dashboard: no Prometheus data source among __inputs (Grafana's import asks for it)")
    if not {"from", "to"} <= set(dash.get("time", {})):
        problem(f"dashboard: time {dash.get('time')} lacks from/to")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    for needed in ("datasource", "node"):
        if needed not in variables:
            problem(f"dashboard: no template variable ${needed}")
    ds = variables.get("datasource", {})
    if ds and (ds.get("type") != "datasource" or ds.get("query") != "prometheus"):
        problem(f"variable $datasource: type {ds.get('type')!r}, query {ds.get('query')!r}: not a Prometheus data source picker")
    node = variables.get("node", {})
    if node:
        if node.get("type") != "query" or node.get("datasource") != DATASOURCE:
            problem("variable $node: not a query on the $datasource variable")
        if not re.fullmatch(r"label_values\(\w+, *\w+\)", node.get("definition", "")) or \
                node.get("query", {}).get("query") != node.get("definition"):
            problem(f"variable $node: query {node.get('query')!r} is not its definition's label_values()")
    for a in dash.get("annotations", {}).get("list", []):
        if "expr" in a and a.get("datasource") != DATASOURCE:
            problem(f"annotation {a.get('name')!r}: datasource is not the $datasource variable")
    ids, cells = set(), {}
    panels = dash.get("panels", [])
    rows = sorted((p["gridPos"]["y"], p) for p in panels if p.get("type") == "row" and "gridPos" in p)
    for i, (y, row) in enumerate(rows):
        g = row["gridPos"]
        if (g.get("x"), g.get("w"), g.get("h")) != (0, 24, 1):
            problem(f"row {row.get('title')!r}: gridPos {g} is not a full-width row")
        if not isinstance(row.get("collapsed"), bool) or not isinstance(row.get("panels"), list):
            problem(f"row {row.get('title')!r}: 'collapsed' and 'panels' missing")
        elif not row["collapsed"] and row["panels"]:
            problem(f"row {row.get('title')!r}: an open row keeps its panels at the top level, not inside it")
        end = rows[i + 1][0] if i + 1 < len(rows) else None
        under = [p for p in panels if p.get("type") != "row" and p["gridPos"]["y"] > y
                 and (end is None or p["gridPos"]["y"] < end)]
        if not under:
            problem(f"row {row.get('title')!r} heads no panel")
    if panels and panels[0].get("type") == "row" and any(p["gridPos"]["y"] < rows[0][0] for p in panels if "gridPos" in p):
        problem("a panel sits above the first row")
    for p in panels:
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
        overlapped = set()
        for row in range(g["y"], g["y"] + g["h"]):
            for col in range(g["x"], g["x"] + g["w"]):
                other = cells.get((row, col))
                if other is not None and other not in overlapped:
                    overlapped.add(other)
                    problem(f"panel {pid} overlaps panel {other} at row {row}, column {col}")
                cells[(row, col)] = pid
        if p["type"] == "row":
            continue
        if not p.get("title"):
            problem(f"panel {pid}: no title")
        if p.get("datasource") != DATASOURCE:
            problem(f"panel {pid}: datasource is not the $datasource variable")
        fc = p.get("fieldConfig")
        if not isinstance(fc, dict) or not isinstance(fc.get("defaults"), dict) or not isinstance(fc.get("overrides"), list):
            problem(f"panel {pid}: fieldConfig lacks defaults or overrides")
        elif "unit" in fc["defaults"] and fc["defaults"]["unit"] not in UNITS:
            problem(f"panel {pid}: unit {fc['defaults']['unit']!r} is not a Grafana unit id")
        if not isinstance(p.get("options"), dict):
            problem(f"panel {pid}: no options object")
        targets = p.get("targets", [])
        if not targets:
            problem(f"panel {pid}: no query")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs) or None in refs:
            problem(f"panel {pid}: refIds {refs} missing or repeated")
        for t in targets:
            if "$node" not in t.get("expr", ""):
                problem(f"panel {pid}: {t.get('expr')!r} ignores the $node variable")
            if t.get("datasource") != DATASOURCE:
                problem(f"panel {pid} target {t.get('refId')}: datasource is not the $datasource variable")
            if not isinstance(t.get("legendFormat"), str):
                problem(f"panel {pid} target {t.get('refId')}: no legendFormat")


def dashboard_queries(dash):
    """(where, expr, labels the legend or title names) of every panel target and annotation."""
    out = []
    for p in dash.get("panels", []):
        out += [(f"panel {p['id']} ({p['title']}) {t.get('refId')}", t["expr"], LEGEND_LABEL.findall(t.get("legendFormat", "")))
                for t in p.get("targets", [])]
    out += [(f"annotation {a['name']}", a["expr"], LEGEND_LABEL.findall(a.get("titleFormat", "")))
            for a in dash.get("annotations", {}).get("list", []) if "expr" in a]
    return out


def expressions(dash, rules_text):
    out = [(where, e) for where, e, _ in dashboard_queries(dash)]
    out += [("alert rules", e) for e in re.findall(r"expr: *(?:\|\n)?(.+?)\n *(?:for|labels):", rules_text, re.S)]
    return out


def prometheus_query(url, expr):
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}),
                                    timeout=10) as r:
            reply = json.load(r)
    except urllib.error.HTTPError as e:  # 400: Prometheus refused the query, and says why
        reply = {"status": "error", "code": e.code, "body": e.read().decode(errors="replace")}
    if reply.get("status") != "success":
        raise RuntimeError(f"{expr}: {reply}")
    return reply["data"]["result"]


# A trailing filter ("... > 0", "... == 1") is empty while all is well; its left side is not.
FILTER = re.compile(r"^(.*\S)\s*(?:>|==|!=|<|>=|<=)\s*[0-9.]+\s*$", re.S)


def check_live(dash, url, rate_interval):
    """Every query as Grafana would send it, against a Prometheus that scrapes a live xlbd."""
    node = next(v for v in dash["templating"]["list"] if v["name"] == "node")
    metric, label = re.fullmatch(r"label_values\((\w+), *(\w+)\)", node["definition"]).groups()
    nodes = sorted({s["metric"].get(label) for s in prometheus_query(url, metric)} - {None})
    if not nodes:
        problem(f"variable $node: {node['definition']} finds no {label} on {url}")
        return 0
    # Grafana's multi-value variable with "All" selected: the values joined as a regex, each
    # escaped, and the backslashes doubled inside PromQL's double-quoted string.
    node_regex = "(" + "|".join(re.escape(n).replace("\\", "\\\\") for n in nodes) + ")"
    answered = 0
    for where, expr, legend in dashboard_queries(dash):
        concrete = expr.replace("$__rate_interval", rate_interval).replace("$node", node_regex)
        try:
            result = prometheus_query(url, concrete)
        except RuntimeError as e:
            problem(f"{where}: {e}")
            continue
        what = concrete
        if not result and FILTER.match(concrete):
            what = FILTER.match(concrete).group(1)
            result = prometheus_query(url, what)
        if not result:
            problem(f"{where}: no series from {url} for {concrete}")
            continue
        answered += 1
        missing = [name for name in legend if not all(name in s["metric"] for s in result)]
        if missing:
            problem(f"{where}: its legend names {missing}, which {what} does not return (labels: {sorted(result[0]['metric'])})")
    return answered


def check_promql(exprs):
    """promtool parses each expression as a recording rule (Grafana's variables made concrete)."""
    if not shutil.which("promtool"):
        print("note: no promtool, the expressions were not parsed")
        return
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
    prometheus = args[args.index("--prometheus") + 1] if "--prometheus" in args else None
    rate_interval = args[args.index("--rate-interval") + 1] if "--rate-interval" in args else "15s"
    dashboard = args[args.index("--dashboard") + 1] if "--dashboard" in args else \
        os.path.join(source_dir, "packaging/grafana/xlb-dashboard.json")
    dash = json.load(open(dashboard))
    rules_text = open(os.path.join(source_dir, "packaging/prometheus/xlb-alerts.yml")).read()
    check_structure(dash)
    exprs = expressions(dash, rules_text)
    if "--no-parse" not in args:
        check_promql(exprs)
    exported = exported_from_page(live) if live else exported_from_sources(source_dir)
    used = set()
    for where, e in exprs:
        for name in METRIC.findall(e):
            used.add(name)
            if name not in exported:
                problem(f"{where}: {name} is not exported by xlbd ({'live /metrics' if live else 'sources'})")
    answered = check_live(dash, prometheus, rate_interval) if prometheus else None
    print(f"{len(exprs)} expressions, {len(used)} metrics, all exported"
          f" ({'live /metrics: ' + live if live else 'xlbd sources'})" if not problems else "", end="")
    if answered is not None and not problems:
        print(f"; {answered} dashboard queries answered by Prometheus at {prometheus}", end="")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
