#!/usr/bin/python3
"""The dashboard view's cost on the browser's side: headless Chromium (tests/netns/status/cdp.py)
keeps /dashboard open in NETNS for SECONDS and reads, after each of the page's scrapes, the time
it took to parse /metrics, evaluate every panel's PromQL and build the charts (data-work-ms),
and what it keeps. Prints one JSON line.
The window is a laptop's screen (1400 x 900: the panels below it are drawn when scrolled to).
usage: dashboard_browser.py NETNS URL SECONDS"""
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/netns/status"))
import cdp  # noqa: E402

READ = r"""!document.body ? JSON.stringify({updated: null}) : JSON.stringify({updated: document.body.dataset.updated || null, work: Number(document.body.dataset.workMs || 0),
  series: ((document.getElementById('freshness') || {textContent: ''}).textContent.match(/(\d+) series kept/) || [0, 0])[1],
  panels: [...document.querySelectorAll('section.panel')].filter(p => Number(p.dataset.series || 0) > 0).length,
  drawn: document.querySelectorAll('section.panel svg').length,
  legends: document.querySelectorAll('.legend li').length})"""


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    ns, url, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    with tempfile.TemporaryDirectory(prefix="xlb-bench-dash-") as work, open(os.path.join(work, "log"), "w") as log:
        browser = cdp.Browser(["ip", "netns", "exec", ns], work, url, log)
        try:
            browser.viewport(1400, 900, False)
            samples, last, end = [], None, time.monotonic() + seconds
            while time.monotonic() < end:
                f = json.loads(browser.evaluate(READ))
                if f["updated"] and f["updated"] != last:
                    last = f["updated"]
                    samples.append(f)
                time.sleep(0.5)
        finally:
            browser.close()
    if len(samples) < 3:
        print(json.dumps({"error": f"{len(samples)} scrapes seen"}))
        return 1
    work_ms = [s["work"] for s in samples[2:]]  # the first scrapes hold no rate yet
    print(json.dumps({"scrapes": len(samples), "work_ms_median": statistics.median(work_ms), "work_ms_max": max(work_ms),
                      "series_kept": int(samples[-1]["series"]), "panels_drawn": samples[-1]["drawn"],
                      "legend_entries": samples[-1]["legends"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
