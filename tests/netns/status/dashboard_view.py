"""The dashboard view (/dashboard) in the status lab, against the lab's Prometheus (issue 32):
Grafana is not packaged for Debian, so the packaged dashboard is rendered by the page's own
charts from its own scrapes of /metrics, and this checks that rendering against what Grafana
would show: every panel and row of packaging/grafana/xlb-dashboard.json at its gridPos on a
24-column grid of 30 px rows with 8 px margins, no query outside the page's PromQL subset, and
at one instant each panel's series - label sets, legends, values - those that a real Prometheus
scraping the same xlbd returns for the same query at that instant ($node as the page sends it,
$__rate_interval the page's). Values agree within a tolerance: the page scrapes every 2 s, the
Prometheus every 1 s, at other moments. Then an annotation (a reload), the phone layout, and the
page given a dashboard with a query outside its subset and a panel type it does not draw."""
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse


SRC = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../.."))
DESKTOP = (1400, 3100)  # every panel on the screen: only those are drawn
ROW_PX, GAP_PX = 30, 8
# A value agrees when within 25 % of the larger (different scrape moments; rates over 8 s), or
# for a rate, within two counter steps over its window (a counter that moves once a second, as a
# failing check's, is seen 7 or 9 times in 8 s, depending on when the window starts).
RELATIVE, ABSOLUTE = 0.25, 1e-3
LEGEND_LABEL = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")

FACTS_JS = r"""JSON.stringify({
  updated: Number(document.body.dataset.updated || 0),
  rateInterval: document.body.dataset.rateInterval || null,
  node: document.getElementById('node-picker').value,
  nodes: [...document.getElementById('node-picker').options].map(o => o.textContent),
  grid: (r => ({left: r.left, top: r.top, width: r.width}))(document.getElementById('dash-grid').getBoundingClientRect()),
  overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  panels: [...document.querySelectorAll('#dash-grid > [data-id]')].map(p => {
    const r = p.getBoundingClientRect();
    return {id: Number(p.dataset.id), type: p.dataset.type, at: Number(p.dataset.at || 0), error: p.dataset.error || null,
            title: (p.querySelector('.title') || p).textContent,
            rect: {left: r.left, top: r.top, width: r.width, height: r.height},
            svg: !!p.querySelector('svg'),
            series: [...p.querySelectorAll('.legend li')].map(l => ({ref: l.dataset.ref, legend: l.dataset.legend,
              labels: JSON.parse(l.dataset.labels), value: l.dataset.value === undefined ? null : Number(l.dataset.value)}))};
  }),
  annotations: [...document.querySelectorAll('#annotations li')].map(a => ({name: a.dataset.annotation, at: Number(a.dataset.at), text: a.textContent}))
})"""


def facts(browser):
    return json.loads(browser.evaluate(FACTS_JS))


def legend(fmt, labels):
    return LEGEND_LABEL.sub(lambda m: labels.get(m.group(1), ""), fmt)


def expected_rect(grid, pos):
    col = (grid["width"] - 23 * GAP_PX) / 24
    return {"left": grid["left"] + pos["x"] * (col + GAP_PX), "top": grid["top"] + pos["y"] * (ROW_PX + GAP_PX),
            "width": pos["w"] * col + (pos["w"] - 1) * GAP_PX, "height": pos["h"] * ROW_PX + (pos["h"] - 1) * GAP_PX}


def check_layout(dash, f, check):
    """Every panel and row of the JSON, once, where its gridPos puts it (1.5 px)."""
    shown = {p["id"]: p for p in f["panels"]}
    check(sorted(shown) == sorted(p["id"] for p in dash["panels"]),
          f"panels on the page {sorted(shown)} are not the dashboard's {sorted(p['id'] for p in dash['panels'])}")
    for p in dash["panels"]:
        got, want = shown[p["id"]], expected_rect(f["grid"], p["gridPos"])
        check(got["title"] == p["title"], f"panel {p['id']}: title {got['title']!r}, not {p['title']!r}")
        off = {k: round(got["rect"][k] - want[k], 1) for k in want if abs(got["rect"][k] - want[k]) > 1.5}
        check(not off, f"panel {p['id']} ({p['title']}) gridPos {p['gridPos']}: off by {off} px ({got['rect']} vs {want})")
        if p["type"] != "row":
            check(not got["error"], f"panel {p['id']} ({p['title']}): {got['error']}")


def prometheus(ns, url, expr, at):
    query = urllib.parse.urlencode({"query": expr, "time": f"{at / 1000:.3f}"})
    r = subprocess.run(["ip", "netns", "exec", ns, "curl", "-s", "--max-time", "5", url + "/api/v1/query?" + query],
                       capture_output=True, text=True)
    reply = json.loads(r.stdout or "{}")
    if reply.get("status") != "success":
        raise RuntimeError(f"Prometheus: {expr}: {r.stdout[:300]} {r.stderr[:300]}")
    return [(s["metric"], float(s["value"][1])) for s in reply["data"]["result"]]


def durations_s(text):
    return sum(float(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text))


def concrete(expr, f):
    node = ".*" if f["node"] == "" else re.escape(f["node"]).replace("\\", "\\\\")
    return expr.replace("$__rate_interval", f["rateInterval"]).replace("$node", node)


def compare(dash, f, ns, url):
    """Differences between the page's series and Prometheus' at the page's last scrape; and figures."""
    shown = {p["id"]: p for p in f["panels"]}
    problems, compared, nonzero, worst = [], 0, {"rate": 0, "other": 0}, (0.0, "")
    for p in dash["panels"]:
        for t in p.get("targets", []):
            page_series = [s for s in shown[p["id"]]["series"] if s["ref"] == t["refId"] and s["value"] is not None]
            at = shown[p["id"]]["at"]
            prom = prometheus(ns, url, concrete(t["expr"], f), at)
            key = lambda labels: json.dumps(labels, sort_keys=True)  # noqa: E731
            mine = {key(s["labels"]): s for s in page_series}
            theirs = {key(m): (m, v) for m, v in prom}
            if set(mine) != set(theirs):
                problems.append(f"panel {p['id']} ({p['title']}) {t['refId']}: label sets differ: page only "
                                f"{sorted(set(mine) - set(theirs))}, Prometheus only {sorted(set(theirs) - set(mine))}")
                continue
            for k, (labels, value) in theirs.items():
                s = mine[k]
                compared += 1
                if s["legend"] != legend(t.get("legendFormat", ""), labels):
                    problems.append(f"panel {p['id']} {t['refId']}: legend {s['legend']!r}, Grafana's {legend(t['legendFormat'], labels)!r}")
                big = max(abs(value), abs(s["value"]))
                nonzero["rate" if "rate(" in t["expr"] else "other"] += big > 0
                off = abs(value - s["value"]) / big if big else 0.0
                if off > worst[0]:
                    worst = (off, f"panel {p['id']} {s['legend']}: page {s['value']:.4g}, Prometheus {value:.4g}")
                steps = 2 / (durations_s(f["rateInterval"])) if "rate(" in t["expr"] else 0
                if abs(value - s["value"]) > max(RELATIVE * big + ABSOLUTE, steps):
                    problems.append(f"panel {p['id']} ({p['title']}) {s['legend']}: page {s['value']}, Prometheus {value}")
    return problems, compared, nonzero, worst


def check_unsupported(browser, dash, require):
    """The page given a dashboard (through DevTools' Fetch) with a query outside its subset and a
    panel type it does not draw: those panels say so, the others are drawn as before."""
    changed = json.loads(json.dumps(dash))
    series = [p for p in changed["panels"] if p["type"] == "timeseries"]
    odd_query, odd_type, plain = series[0], series[1], series[2]
    odd_query["targets"][0]["expr"] = "histogram_quantile(0.9, " + odd_query["targets"][0]["expr"] + ")"
    odd_type["type"] = "stat"
    browser.call("Fetch.enable", patterns=[{"urlPattern": "*/xlb-dashboard.json"}])
    try:
        browser.call("Page.reload", ignoreCache=True)
        paused = browser.event("Fetch.requestPaused", 10)
        require(paused is not None, "the reloaded dashboard view did not ask for /xlb-dashboard.json")
        browser.call("Fetch.fulfillRequest", requestId=paused["requestId"], responseCode=200,
                     responseHeaders=[{"name": "Content-Type", "value": "application/json"}],
                     body=base64.b64encode(json.dumps(changed).encode()).decode())
    finally:
        browser.call("Fetch.disable")
    deadline = time.monotonic() + 10
    while True:
        try:  # the page is loading again: its elements may not be there yet
            f = json.loads(browser.evaluate("document.getElementById('node-picker') ? " + FACTS_JS + " : 'null'"))
        except RuntimeError:
            f = None
        shown = {p["id"]: p for p in (f or {}).get("panels", [])}
        done = all(i in shown for i in (odd_query["id"], odd_type["id"], plain["id"])) and \
            "not supported here: the function histogram_quantile()" in (shown[odd_query["id"]]["error"] or "") and \
            "not supported here: panel type stat" in (shown[odd_type["id"]]["error"] or "") and shown[plain["id"]]["series"]
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    require(done, f"panels outside what the view draws: {[shown.get(i) for i in (odd_query['id'], odd_type['id'], plain['id'])]}")
    print(f"measured: panel {odd_query['id']} says {shown[odd_query['id']]['error']!r}; panel {odd_type['id']} says "
          f"{shown[odd_type['id']]['error']!r}; panel {plain['id']} drawn with {len(shown[plain['id']]['series'])} series")


def check(browser, lab, suffix, prometheus_url, work, screenshot_out, lab_cmd, step, require):
    dash = json.load(open(os.path.join(SRC, "packaging/grafana/xlb-dashboard.json")))
    ns = lab["LAB_LB1"]
    packets_panel = next(p["id"] for p in dash["panels"] if "xlb_vip_packets_total" in json.dumps(p.get("targets", [])))
    reloads = next(a for a in dash["annotations"]["list"] if "reload" in a["expr"])
    # Steady traffic (the lab's probe: a request every 50 ms) for longer than the comparison needs;
    # stopped after it, by its process group (the lab script's client).
    client = subprocess.Popen([os.path.join(SRC, "tools/lab/xlb-lab.sh"), "probe", suffix, "40"],
                              stdout=subprocess.DEVNULL, start_new_session=True)
    traffic_from = time.monotonic()
    try:
        r = lab_cmd(["ctl", suffix, "1", "reload"])
        require(r.returncode == 0, "xlbctl reload on lb1: " + r.stdout + r.stderr)

        def ready(f):
            p = next((x for x in f["panels"] if x["id"] == packets_panel), None)
            return p and any((s["value"] or 0) > 0 for s in p["series"]) and \
                any(a["name"] == reloads["name"] for a in f["annotations"])

        start, f = time.monotonic(), facts(browser)
        while not ready(f) and time.monotonic() - start < 20:
            time.sleep(0.5)
            f = facts(browser)
        require(ready(f), f"no traffic or no reload annotation on the dashboard view: {f['annotations']} "
                          f"{next(x for x in f['panels'] if x['id'] == packets_panel)}")
        require(f["nodes"][:1] == ["All"] and "127.0.0.1:9780" in f["nodes"], f"$node picker: {f['nodes']}")
        # A rate window of steady traffic behind the comparison.
        time.sleep(max(0.0, 10 - (time.monotonic() - traffic_from)))
        check_layout(dash, facts(browser), require)
        for attempt in range(3):  # a series that appears between the two scrapes: compare again
            f = facts(browser)
            problems, compared, nonzero, worst = compare(dash, f, ns, prometheus_url)
            if not problems:
                break
            time.sleep(2)
        require(not problems, "the dashboard view and Prometheus disagree:\n  " + "\n  ".join(problems))
        require(nonzero["rate"] >= 5, f"only {nonzero['rate']} non-zero rates compared: no traffic behind the comparison")
        with_data = sum(1 for p in f["panels"] if p["type"] != "row" and p["series"])
        print(f"measured: {len(f['panels'])} panels and rows at their gridPos; {compared} series of "
              f"{with_data} panels equal to Prometheus' in labels and legend ({nonzero['rate']} non-zero rates, "
              f"{nonzero['other']} other non-zero values; largest "
              f"difference {worst[0] * 100:.1f}%: {worst[1]})")
        note = next(a for a in f["annotations"] if a["name"] == reloads["name"])
        expr = concrete(reloads["expr"], f)
        theirs = [legend(reloads["titleFormat"], m) for m, _ in prometheus(ns, prometheus_url, expr, note["at"] + 2000)]
        require(any(note["text"].endswith(" " + t) for t in theirs),
                f"reload annotation {note['text']!r}; Prometheus' titles for {expr}: {theirs}")
        print(f"measured: annotation {note['text']!r}, as Prometheus titles it")
        desktop = os.path.join(work, "dashboard.png")
        browser.screenshot(desktop)
        if screenshot_out:
            shutil.copyfile(desktop, screenshot_out)
            print("screenshot:", screenshot_out)
        browser.viewport(390, 844, True)
        deadline = time.monotonic() + 5
        while True:
            phone = facts(browser)
            panels = [p for p in phone["panels"] if p["type"] != "row"]
            stacked = all(abs(p["rect"]["left"] - phone["grid"]["left"]) < 1.5 and abs(p["rect"]["width"] - phone["grid"]["width"]) < 1.5
                          for p in panels)
            if (phone["overflow"] <= 0 and stacked) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        require(phone["overflow"] <= 0, f"the dashboard view is {phone['overflow']} px wider than a 390 px phone")
        require(stacked, "panels do not stack one per line on a 390 px phone")
        order = [p["id"] for p in sorted(phone["panels"], key=lambda p: p["rect"]["top"])]
        want = [p["id"] for p in sorted(dash["panels"], key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"]))]
        require(order == want, f"stacked order {order}, not the grid's {want}")
        browser.screenshot(os.path.join(work, "dashboard-phone.png"))
        browser.viewport(*DESKTOP, False)
        check_unsupported(browser, dash, require)
    finally:
        if client.poll() is None:
            os.killpg(client.pid, signal.SIGTERM)
        client.wait()
