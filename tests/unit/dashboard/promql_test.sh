#!/usr/bin/env bash
# Runs promql_test.js under node; without node (Debian package nodejs; make deps installs it) it
# skips and says so. The browser lab (tests/netns/status) runs the same code in Chromium.
set -euo pipefail
src=${1:?SOURCE_DIR}
if ! command -v node >/dev/null; then
  echo "SKIP: no node (Debian package nodejs; make deps installs it): the PromQL subset was not tested here"
  exit 77
fi
exec node "$src/tests/unit/dashboard/promql_test.js" "$src"
