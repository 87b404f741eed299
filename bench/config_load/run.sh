#!/usr/bin/env bash
# bench/config_load/run.sh BUILD_DIR: peak memory and time of loading a configuration per
# virtual server (1,000 to 100,000 of the users' shape); writes bench/results/config_load.json.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
"$build/bench/config_load/xlb-bench-config-load" --json "${CONFIG_LOAD_JSON:-$repo/bench/results/config_load.json}" \
  ${CONFIG_LOAD_SIZES:+--services $CONFIG_LOAD_SIZES}
