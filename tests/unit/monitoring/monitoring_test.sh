#!/usr/bin/env bash
# The alerting rules and the Grafana dashboard in packaging/ (issue 32): promtool checks the
# rules and runs their unit tests (xlb-alerts.test.yml); check_dashboard.py validates the
# dashboard's structure, parses every expression with promtool and checks every metric name
# against the families xlbd's sources export (the live check: tests/netns/status).
set -euo pipefail
src=$(cd "$(dirname "$0")/../../.." && pwd)
if ! command -v promtool >/dev/null; then
  echo "SKIP: no promtool (Debian package prometheus; make deps installs it)"
  exit 77
fi
work=$(mktemp -d /tmp/xlb-monitoring-XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$src/packaging/prometheus/xlb-alerts.yml" "$src/tests/unit/monitoring/xlb-alerts.test.yml" "$work/"
promtool check rules "$work/xlb-alerts.yml"
(cd "$work" && promtool test rules xlb-alerts.test.yml)
python3 "$src/tests/unit/monitoring/check_dashboard.py" "$src"
