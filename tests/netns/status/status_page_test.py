#!/usr/bin/python3
"""The status page and /api/v1 (issue 32) in the two-node lab of tools/lab/xlb-lab.sh, read by
Debian's headless Chromium from inside each LB's namespace (metrics_listen's default,
127.0.0.1:9780). One browser per LB keeps the page open, polling as an operator's would
(cdp.py): live data arrives, a stopped real turns down, a VRRP failover appears among the
events, the page fits a phone's width. Also: the API's model equals `xlbctl --json dump`'s, it
is read-only, and every metric the Grafana dashboard and the alert rules use is on the live
/metrics (flow sync and VIP routes are on, so that every family is exported), and a real
Prometheus (Debian's) scraping lb1 answers every query of the Grafana dashboard with series.
Without a browser that can run here (probed first, outside the lab), the same facts are read
from /api/v1/state instead of the page's DOM, the page-only checks are left out, and the test
ends with exit 77 saying so; a browser that passed the probe and then fails is a failure.
The dashboard view (/dashboard, a third browser on lb1 from the start): every panel of the
packaged dashboard at its gridPos, and its series - label sets, legends, values - those that
the same Prometheus returns for the same queries at the same instant (dashboard_view.py).
usage: status_page_test.py BUILD_DIR [SCREENSHOT.png [DASHBOARD.png]]    exit 77: (partly) skipped, with the reason"""
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402
import dashboard_view  # noqa: E402

SRC = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../.."))
LAB = os.path.join(SRC, "tools/lab/xlb-lab.sh")
PAGE = "http://127.0.0.1:9780/"


class Failure(Exception):
    pass


START = time.monotonic()


def step(text):
    print(f"--- [{time.monotonic() - START:5.1f} s] {text}", flush=True)


def check(condition, message):
    if not condition:
        raise Failure(message)


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def api(ns, path, method="GET"):
    r = run(["ip", "netns", "exec", ns, "curl", "-s", "--max-time", "5", "-X", method, "-w", "\n%{http_code}",
             "http://127.0.0.1:9780" + path])
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body


def api_json(ns, path):
    code, body = api(ns, path)
    check(code == 200, f"{path}: HTTP {code}: {body[:300]}")
    return json.loads(body)


def project(dump):
    """The fields /api/v1/dump and xlbctl dump must agree on (counters and clocks move)."""
    return {"instances": [{k: i.get(k) for k in ("name", "state", "priority", "vips")} for i in dump["status"]["instances"]],
            "reals": [{k: r.get(k) for k in ("address", "port", "health", "configured_weight", "weight")}
                      for s in dump["services"] for r in s["reals"]]}


def api_facts(ns):
    """The facts cdp.facts() reads from the page's DOM, from the API the page polls (no browser)."""
    code, body = api(ns, "/api/v1/state?since=0")
    if code != 200:
        return {"updated": None, "freshness": "stale", "reals": [], "instances": [], "events": [], "overflow": 0}
    state = json.loads(body)
    window = state["rates"]["interval_ms"] * state["rates"]["points"]
    now = cdp_now_ms(state)
    reals = []
    for s in state["services"]["items"]:
        for r in s["reals"]:
            address = f"[{r['address']}]" if ":" in r["address"] else r["address"]
            reals.append({"real": f"{address}:{r['port']}", "health": r["health"].split(",")[0],
                          "points": sum(p[0] >= now - window for p in r.get("history", [])),
                          "rate": r["rate"]["packets_per_second"]})
    return {"updated": state["generated_at"], "freshness": "live", "reals": reals,
            "instances": [{"name": i["name"], "state": i["state"]} for i in state["status"]["instances"]],
            "events": [{"kind": e["kind"], "subject": e["subject"], "text": e["text"]} for e in state["events"]],
            "overflow": 0}


def cdp_now_ms(state):
    from datetime import datetime
    return int(datetime.fromisoformat(state["generated_at"].replace("Z", "+00:00")).timestamp() * 1000)


class ApiReader:
    """Stands in for a browser when none can run here: facts from the API of one namespace."""

    def __init__(self, ns):
        self.ns = ns

    def facts(self):
        return api_facts(self.ns)


def wait_for(reader, predicate, seconds):
    if isinstance(reader, ApiReader):
        start, last = time.monotonic(), None
        while time.monotonic() - start < seconds:
            last = reader.facts()
            if predicate(last):
                return last, time.monotonic() - start
            time.sleep(0.25)
        return last, None
    return cdp.wait_for(reader, predicate, seconds)


def facts_of(reader):
    return reader.facts() if isinstance(reader, ApiReader) else cdp.facts(reader)


def start_browser_probe(work):
    """Headless Chromium rendering a page outside the lab (started while the lab comes up)."""
    if not shutil.which("chromium"):
        return None
    profile = os.path.join(work, "probe")
    return subprocess.Popen(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                             "--no-first-run", "--user-data-dir=" + profile, "--dump-dom",
                             "data:text/html,<p id=probe>rendered</p>"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, HOME=profile))


def browser_probe_result(probe):
    """None if the probe rendered the page, else why not (its own words)."""
    if probe is None:
        return "no chromium (Debian package chromium; make deps installs it)"
    try:
        out, err = probe.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        probe.kill()
        probe.communicate()
        return "chromium --headless --dump-dom did not end within 60 s"
    if "rendered" not in out:
        return f"chromium --headless cannot render a page here (exit {probe.returncode}): {err[-400:]}"
    return None


PROMETHEUS_PORT = 19090
# The page's polls of /api/v1/state as the browser made them: since= and bytes on the wire.
POLLS_JS = r"""JSON.stringify(performance.getEntriesByType('resource')
  .filter(e => e.name.includes('/api/v1/state'))
  .map(e => ({since: Number(new URL(e.name).searchParams.get('since') || 0), bytes: e.encodedBodySize})))"""


def start_prometheus(ns, work, log):
    """Debian's Prometheus in lb1's namespace, scraping its xlbd every second."""
    conf = os.path.join(work, "prometheus.yml")
    with open(conf, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "scrape_configs:\n  - job_name: xlbd\n    static_configs:\n      - targets: ['127.0.0.1:9780']\n")
    return subprocess.Popen(["ip", "netns", "exec", ns, "prometheus", "--config.file=" + conf,
                             "--storage.tsdb.path=" + os.path.join(work, "tsdb"),
                             f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}", "--log.level=warn"],
                            stdout=log, stderr=log)


def real(facts, address):
    return next((r for r in facts["reals"] if r["real"] == address + ":80"), None)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    screenshot_out = sys.argv[2] if len(sys.argv) > 2 else None
    dashboard_out = sys.argv[3] if len(sys.argv) > 3 else None
    if os.geteuid() != 0:
        print("SKIP: needs root: network namespaces, XDP, bpffs")
        return 77
    if not shutil.which("prometheus"):
        print("SKIP: no prometheus (Debian package prometheus; make deps installs it)")
        return 77
    suffix = "st%06x" % (os.getpid() & 0xFFFFFF)
    work = tempfile.mkdtemp(prefix="xlb-status-")
    browsers = []
    prometheus = None
    probe = None
    log = open(os.path.join(work, "chromium.log"), "w")
    try:
        probe = start_browser_probe(work)
        env = dict(os.environ, XLB_LAB_GLOBAL_DEFS="   lvs_sync_daemon eth1 VI_1 id 7\n   vip_route_table 100")
        up = run([LAB, "up", suffix, build], env=env)
        check(up.returncode == 0, "the lab did not come up:\n" + up.stdout + up.stderr)
        lab = dict(word.split("=", 1) for line in up.stdout.splitlines() for word in shlex.split(line) if "=" in word)
        no_browser = browser_probe_result(probe)
        if no_browser:
            step(f"no browser: {no_browser}; the page's facts are read from /api/v1/state instead")
        lb1, lb2, rs1, rs2 = lab["LAB_LB1"], lab["LAB_LB2"], lab["LAB_RS1_IP"], lab["LAB_RS2_IP"]

        prometheus = start_prometheus(lb1, work, log)
        if no_browser:
            b1, b2 = ApiReader(lb1), ApiReader(lb2)
        else:
            # The probe rendered a page: from here on a browser that fails is the test's failure.
            b1 = cdp.Browser(["ip", "netns", "exec", lb1], os.path.join(work, "lb1"), PAGE, log)
            browsers.append(b1)
            b2 = cdp.Browser(["ip", "netns", "exec", lb2], os.path.join(work, "lb2"), PAGE, log)
            browsers.append(b2)
            # The dashboard view, open from here on: it keeps the samples of its own scrapes.
            dash = cdp.Browser(["ip", "netns", "exec", lb1], os.path.join(work, "dash"), PAGE + "dashboard", log)
            browsers.append(dash)
            dash.viewport(*dashboard_view.DESKTOP, False)

        step("API: the model of xlbctl dump, read-only, versioned, paged")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            state = api_json(lb1, "/api/v1/state")
            if sum(r["health"] == "up" for r in state["services"]["items"][0]["reals"]) == 2:
                break
            time.sleep(0.2)
        check(state["api_version"] == 1, f"api_version: {state.get('api_version')}")
        check(state["services"]["total"] == 1, f"services.total: {state['services']}")
        ctl = run([LAB, "ctl", suffix, "1", "--json", "dump"])
        check(ctl.returncode == 0, "xlbctl dump: " + ctl.stderr)
        from_api, from_ctl = project(api_json(lb1, "/api/v1/dump")), project(json.loads(ctl.stdout))
        check(from_api == from_ctl, f"/api/v1/dump and xlbctl dump differ:\n{from_api}\n{from_ctl}")
        check(api(lb1, "/api/v1/services?limit=abc")[0] == 400, "a bad limit was accepted")
        check(api(lb1, "/api/v1/state", "POST")[0] == 405, "POST was not refused: the API is read-only")
        check(api_json(lb1, "/api/v1/services?offset=1")["items"] == [], "offset past the end is not an empty page")

        step("live /metrics names every metric of the dashboard and the alert rules")
        code, metrics = api(lb1, "/metrics")
        check(code == 200, f"/metrics: HTTP {code}")
        with open(os.path.join(work, "metrics.txt"), "w") as f:
            f.write(metrics)
        r = run(["python3", os.path.join(SRC, "tests/unit/monitoring/check_dashboard.py"), SRC, "--metrics", f.name])
        print(r.stdout.strip())
        check(r.returncode == 0, "dashboard or rules use metrics this xlbd does not export:\n" + r.stderr)

        step("traffic; the page shows live data, both reals up, rs1's chart with points")
        run([LAB, "requests", suffix, "60"])
        facts, took = wait_for(b1, lambda f: f["updated"] and real(f, rs1) and real(f, rs1)["points"] > 0
                                   and real(f, rs2) and real(f, rs1)["health"] == "up" == real(f, rs2)["health"], 20)
        check(took is not None, f"no live data with both reals up and a charted rate: {facts}")
        check(facts["freshness"] == "live", f"freshness {facts['freshness']}")
        check({"name": "VI_1", "state": "MASTER"} in facts["instances"], f"lb1 not MASTER of VI_1: {facts['instances']}")
        check(any(e["kind"] == "start" for e in facts["events"]), "no start event")

        step("rs1's server stops: the page shows it down, and the checker's verdict among the events")
        run([LAB, "rs-stop", suffix, "rs1"])
        facts, took = wait_for(b1, lambda f: real(f, rs1) and real(f, rs1)["health"] == "down", 20)
        check(took is not None, f"rs1 never turned down on the page: {facts}")
        print(f"measured: rs1 down on the page {took:.1f} s after its server stopped (check budget: delay_loop "
              f"{lab['LAB_DELAY_LOOP']} + retry {lab['LAB_RETRY']} x delay_before_retry {lab['LAB_DELAY_BEFORE_RETRY']}"
              f" + connect_timeout {lab['LAB_CONNECT_TIMEOUT']} s, then the page's 1 s poll)")
        check(any(e["kind"] == "health" and e["subject"] == rs1 + ":80" and "is down" in e["text"] for e in facts["events"]),
              f"no health event for rs1: {facts['events']}")
        check(real(facts, rs2)["health"] == "up", "rs2 changed too")

        step("lb1's page with traffic: rs2's chart grows from the points each poll adds (since=)")
        client = subprocess.Popen([LAB, "requests", suffix, "400"], stdout=subprocess.DEVNULL)
        try:
            busy, took = wait_for(b1, lambda f: real(f, rs2)["points"] > 2 and real(f, rs2)["rate"] > 0, 15)
            check(took is not None, f"no rate for rs2 while the client sends: {busy['reals']}")
            grown, took = wait_for(b1, lambda f: real(f, rs2)["points"] > real(busy, rs2)["points"], 10)
            check(took is not None, f"rs2's chart stayed at {real(busy, rs2)['points']} points")
            print(f"measured: rs2's chart {real(busy, rs2)['points']} -> {real(grown, rs2)['points']} points in {took:.1f} s")
            if not no_browser:
                polls = json.loads(b1.evaluate(POLLS_JS))
                later = [p for p in polls if p["since"] > 0]
                check(polls and polls[0]["since"] == 0 and later, f"the page does not poll with since=: {polls[:3]}")
                print(f"measured: first poll {polls[0]['bytes']} bytes (all points), later polls "
                      f"{min(p['bytes'] for p in later)}-{max(p['bytes'] for p in later)} bytes ({len(later)} with since=)")
                desktop = os.path.join(work, "desktop.png")
                b1.screenshot(desktop)
                b1.viewport(390, 844, True)
                phone, took = wait_for(b1, lambda f: f["overflow"] <= 0, 5)
                check(took is not None, f"the page is {phone['overflow']} px wider than a 390 px phone screen")
                b1.screenshot(os.path.join(work, "phone.png"))
                b1.viewport(1100, 1250, False)
        finally:
            client.wait()
        if screenshot_out and not no_browser:
            shutil.copyfile(desktop, screenshot_out)
            print("screenshot:", screenshot_out)
        step("a real Prometheus scraping lb1 answers every query of the Grafana dashboard")
        deadline = time.monotonic() + 20
        while True:
            r = run(["ip", "netns", "exec", lb1, "python3", os.path.join(SRC, "tests/unit/monitoring/check_dashboard.py"),
                     SRC, "--no-parse", "--metrics", os.path.join(work, "metrics.txt"),
                     "--prometheus", f"http://127.0.0.1:{PROMETHEUS_PORT}", "--rate-interval", "15s"])
            if r.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(2)  # Prometheus starting, or fewer than two scrapes in a rate's window yet
        print(r.stdout.strip())
        check(r.returncode == 0, "the dashboard's queries on a real Prometheus:\n" + r.stdout + r.stderr)
        if not no_browser:
            step("the dashboard view on lb1: panels at their gridPos, series as Prometheus returns them")
            dashboard_view.check(dash, lab, suffix, f"http://127.0.0.1:{PROMETHEUS_PORT}", work, dashboard_out,
                                 lambda cmd: run([LAB] + cmd), step, check)
        step("lb1's xlbd stops: lb2's page shows its BACKUP -> MASTER transition")
        before = facts_of(b2)
        check({"name": "VI_1", "state": "BACKUP"} in before["instances"], f"lb2 not BACKUP: {before['instances']}")

        def masters(f):
            return sum(e["kind"] == "vrrp" and e["subject"] == "VI_1" and "BACKUP -> MASTER" in e["text"]
                       for e in f["events"])

        run([LAB, "lb-kill", suffix, "1", "TERM"])
        after, took = wait_for(b2, lambda f: masters(f) > masters(before)
                                   and {"name": "VI_1", "state": "MASTER"} in f["instances"], 30)
        check(took is not None, f"no BACKUP -> MASTER on lb2's page: {after}")
        print(f"measured: lb2's page showed the transition {took:.1f} s after SIGTERM to lb1")
        for e in after["events"][:4]:
            print("   ", e["kind"], e["subject"], "|", e["text"])

        step("on lb2: a reload and an operator's withdrawal appear among the events")
        r = run([LAB, "ctl", suffix, "2", "reload"])
        check(r.returncode == 0, "xlbctl reload: " + r.stdout + r.stderr)
        r = run([LAB, "ctl", suffix, "2", "withdraw"])
        check(r.returncode == 0, "xlbctl withdraw: " + r.stdout + r.stderr)

        def vip_news(f):  # the newest announce event about the VIP (events are newest first)
            return next((e["text"] for e in f["events"] if e["kind"] == "announce" and e["subject"] == lab["LAB_VIP"]), "")

        news, took = wait_for(b2, lambda f: any(e["kind"] == "reload" and e["text"].startswith("reloaded")
                                                for e in f["events"]) and "withdrawn" in vip_news(f), 10)
        check(took is not None, f"no reload or withdrawal event on lb2's page: {news['events'] if news else None}")
        if not no_browser:
            vip = b2.evaluate("document.querySelector('div.vip h3').textContent")
            check("withdrawn" in vip, f"the VIP's heading does not say withdrawn: {vip!r}")
        run([LAB, "ctl", suffix, "2", "announce"])
        if not no_browser:
            # lb1's page, still open, says that it no longer updates rather than show old data as live.
            stale, took = wait_for(b1, lambda f: f["freshness"] == "stale", 10)
            check(took is not None, f"lb1's page does not say that it stopped updating: {stale['freshness']}")

        step("lb1 again, with status_page off: no page, the API and /metrics stay")
        off_env = dict(os.environ, XLB_LAB_GLOBAL_DEFS="   status_page off")
        r = run([LAB, "conf", suffix, "1"], env=off_env)
        check(r.returncode == 0, "xlb-lab.sh conf: " + r.stderr)
        r = run([LAB, "lb-start", suffix, "1"])
        check(r.returncode == 0, "lb1 did not start with status_page off: " + r.stdout + r.stderr)
        deadline = time.monotonic() + 10
        while api(lb1, "/api/v1")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        check(api(lb1, "/api/v1")[0] == 200, "no /api/v1 with status_page off")
        check(api(lb1, "/")[0] == 404 and api(lb1, "/status.js")[0] == 404, "the page is served with status_page off")
        check(api(lb1, "/metrics")[0] == 200, "no /metrics with status_page off")
        if no_browser:
            print(f"SKIP (partly): the API, /metrics and Prometheus checks passed; the page's own checks did not run: {no_browser}")
            return 77
        print("PASS")
        return 0
    except Failure as e:
        print("FAIL:", e, file=sys.stderr)
        for node in ("lb1", "lb2"):
            path = f"/run/xlb-lab-{suffix}/xlbd-{node}.log"
            if os.path.exists(path):
                print(f"--- last lines of xlbd on {node}:\n" + "".join(open(path).readlines()[-15:]), file=sys.stderr)
        return 1
    finally:
        if probe and probe.poll() is None:
            probe.kill()
            probe.communicate()
        for b in browsers:
            b.close()
        if prometheus:
            prometheus.terminate()
            try:
                prometheus.wait(timeout=10)
            except subprocess.TimeoutExpired:
                prometheus.kill()
                prometheus.wait()
        log.close()
        run([LAB, "down", suffix])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
