#!/usr/bin/env bash
# The alerting rules and the Grafana dashboard in packaging/ (issue 32): check_dashboard.py
# validates the dashboard's structure and checks every metric name against the families xlbd's
# sources export (the live checks, on a real /metrics and a real Prometheus: tests/netns/status),
# and must refuse dashboards broken in the ways that matter (refuses_broken_dashboards.py); promtool checks the rules, runs their
# unit tests (xlb-alerts.test.yml) and parses every expression. Without promtool the Python
# checks still run and the test then reports itself skipped, saying what did not run.
set -euo pipefail
src=$(cd "$(dirname "$0")/../../.." && pwd)
work=$(mktemp -d /tmp/xlb-monitoring-XXXXXX)
trap 'rm -rf "$work"' EXIT
check=$src/tests/unit/monitoring/check_dashboard.py
python3 "$check" "$src"

python3 "$src/tests/unit/monitoring/refuses_broken_dashboards.py" "$src"  # with promtool: its parse too

if ! command -v promtool >/dev/null; then
  echo "SKIP (partly): no promtool (Debian package prometheus; make deps installs it): rules not checked, expressions not parsed"
  exit 77
fi
cp "$src/packaging/prometheus/xlb-alerts.yml" "$src/tests/unit/monitoring/xlb-alerts.test.yml" "$work/"
promtool check rules "$work/xlb-alerts.yml"
(cd "$work" && promtool test rules xlb-alerts.test.yml)
