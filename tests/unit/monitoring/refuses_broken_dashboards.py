#!/usr/bin/python3
"""check_dashboard.py must refuse the Grafana dashboard broken in each way that matters, naming
what is wrong: one Python process runs every case (check_dashboard's structure and metric
checks on a modified copy of the model, and with promtool its parse of a broken expression).
usage: refuses_broken_dashboards.py SOURCE_DIR"""
import copy
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_dashboard as cd  # noqa: E402


def panel(dash, pid):
    return next(p for p in dash["panels"] if p.get("id") == pid)


CASES = [
    ("overlapping panels", lambda d: panel(d, 3)["gridPos"].update(x=6), "overlaps panel"),
    ("a panel past 24 columns", lambda d: panel(d, 3)["gridPos"].update(w=20), "does not fit 24 columns"),
    ("a repeated id", lambda d: panel(d, 3).update(id=2), "missing or repeated"),
    ("an unknown unit", lambda d: panel(d, 2)["fieldConfig"]["defaults"].update(unit="packets"), "not a Grafana unit id"),
    ("no fieldConfig", lambda d: panel(d, 2).pop("fieldConfig"), "fieldConfig lacks"),
    ("a fixed data source", lambda d: panel(d, 2)["targets"][0]["datasource"].update(uid="prom1"),
     "datasource is not the $datasource"),
    ("a query without $node", lambda d: panel(d, 2)["targets"][0].update(expr="rate(xlb_vip_packets_total[5m])"),
     "ignores the $node"),
    ("a metric xlbd does not export", lambda d: panel(d, 2)["targets"][0].update(expr='xlb_nope{instance=~"$node"}'),
     "is not exported"),
    ("no node variable", lambda d: d["templating"].update(list=[v for v in d["templating"]["list"] if v["name"] != "node"]),
     "no template variable $node"),
    ("a node variable on a fixed data source",
     lambda d: next(v for v in d["templating"]["list"] if v["name"] == "node")["datasource"].update(uid="x"),
     "not a query on the $datasource"),
    ("an open row holding panels", lambda d: panel(d, 1).update(panels=[copy.deepcopy(panel(d, 2))]),
     "open row keeps its panels"),
    ("a row heading nothing", lambda d: d["panels"].append({"id": 99, "type": "row", "title": "empty", "collapsed": False,
                                                             "panels": [], "gridPos": {"x": 0, "y": 500, "w": 24, "h": 1}}),
     "heads no panel"),
    ("an old schema", lambda d: d.update(schemaVersion=16), "schemaVersion 16"),
    ("no data source input", lambda d: d.update(__inputs=[]), "no Prometheus data source among __inputs"),
]


def main():
    source_dir = sys.argv[1]
    good = json.load(open(os.path.join(source_dir, "packaging/grafana/xlb-dashboard.json")))
    rules = open(os.path.join(source_dir, "packaging/prometheus/xlb-alerts.yml")).read()
    exported = cd.exported_from_sources(source_dir)

    def problems_of(dash):
        cd.problems.clear()
        cd.check_structure(dash)
        exprs = cd.expressions(dash, rules)
        if "sum by (vip (" in json.dumps(dash):
            cd.check_promql(exprs)
        for where, e in exprs:
            for name in cd.METRIC.findall(e):
                if name not in exported:
                    cd.problem(f"{where}: {name} is not exported by xlbd (sources)")
        return list(cd.problems)

    failed = 0
    if problems_of(copy.deepcopy(good)):
        print("FAIL: the packaged dashboard itself is refused:", cd.problems)
        return 1
    cases = list(CASES)
    if shutil.which("promtool"):
        cases.append(("an expression promtool cannot parse",
                      lambda d: panel(d, 2)["targets"][0].update(expr='sum by (vip (xlb_up{instance=~"$node"})'),
                      "promtool cannot parse"))
    for name, breaks, words in cases:
        dash = copy.deepcopy(good)
        breaks(dash)
        found = problems_of(dash)
        if not any(words in p for p in found):
            print(f"FAIL: {name}: not refused for it ({found or 'passed'})")
            failed += 1
        else:
            print(f"refused as expected: {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
