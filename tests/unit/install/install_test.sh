#!/usr/bin/env bash
# usage: install_test.sh BUILD_DIR
# Installs the build into a temporary DESTDIR with PREFIX /usr/local (as `make install
# DESTDIR=... PREFIX=/usr/local` would) and checks what an operator needs after it.
set -euo pipefail
build=$(cd "${1:?BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/../../.." && pwd)
for f in ctrl/xlbd tools/xlbctl/xlbctl man/xlbd.8.gz; do
  [ -e "$build/$f" ] || { echo "install_test: $build/$f is not built (make build)"; exit 1; }
done
command -v man >/dev/null || { echo "install_test: skipped: no man (apt-get install man-db)"; exit 77; }

dest=$(mktemp -d /tmp/xlb-install-test.XXXXXX)
trap 'rm -rf "$dest"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

DESTDIR=$dest "$src/tools/install.sh" "$build" /usr/local >"$dest.log" 2>&1 || { cat "$dest.log"; rm -f "$dest.log"; exit 1; }
rm -f "$dest.log"
p=$dest/usr/local
for f in sbin/xlbd sbin/xlbctl; do [ -x "$p/$f" ] || bad "$p/$f is not an installed executable"; done
if [ -e "$build/tools/pktgen/xlb-pktgen" ]; then [ -x "$p/bin/xlb-pktgen" ] || bad "no $p/bin/xlb-pktgen"; fi
"$p/sbin/xlbd" --help >/dev/null 2>&1 || bad "the installed xlbd --help fails"
"$p/sbin/xlbctl" --help >/dev/null 2>&1 || bad "the installed xlbctl --help fails"
cmp -s "$p/share/doc/xlb/examples/bird.conf" "$src/packaging/bird/bird.conf" ||
  bad "no BIRD example at $p/share/doc/xlb/examples/bird.conf"
cmp -s "$p/share/xlb/grafana/xlb-dashboard.json" "$src/packaging/grafana/xlb-dashboard.json" ||
  bad "no Grafana dashboard at $p/share/xlb/grafana/xlb-dashboard.json"
cmp -s "$p/share/xlb/prometheus/xlb-alerts.yml" "$src/packaging/prometheus/xlb-alerts.yml" ||
  bad "no Prometheus rules at $p/share/xlb/prometheus/xlb-alerts.yml"

# `man -l` renders the installed (compressed) file itself; each page must name its program.
for page in man8/xlbd.8 man8/xlbctl.8 man5/xlb.conf.5; do
  f=$p/share/man/$page.gz
  [ -f "$f" ] || { bad "no $f"; continue; }
  name=$(basename "$page"); name=${name%.*}
  out=$(MANWIDTH=80 man -l "$f" 2>&1) || bad "man -l $f failed: $out"
  grep -q "^NAME" <<<"$out" || bad "man -l $f has no NAME section"
  grep -q "$name" <<<"$out" || bad "man -l $f does not mention $name"
done
# Found by name once MANPATH includes the prefix, as /usr/local/share/man is on Debian.
MANPATH=$p/share/man man -w xlbd >/dev/null 2>&1 || bad "man -w xlbd does not find the page under $p/share/man"

unit=$dest/lib/systemd/system/xlbd.service
[ -f "$unit" ] || bad "no $unit"
grep -q '^ExecStart=/usr/local/sbin/xlbd ' "$unit" || bad "$unit does not run /usr/local/sbin/xlbd"
conf=$dest/etc/xlb/xlb.conf
cmp -s "$conf" "$src/packaging/xlb.conf" || bad "$conf is not packaging/xlb.conf"
"$p/sbin/xlbd" -t -f "$conf" >/dev/null 2>&1 || true  # may name interfaces this host lacks

# A second install must keep the operator's edited configuration.
echo "# edited" >>"$conf"
DESTDIR=$dest "$src/tools/install.sh" "$build" /usr/local >/dev/null 2>&1 || bad "the second install failed"
tail -n 1 "$conf" | grep -q '^# edited$' || bad "a second install overwrote $conf"

[ "$fail" = 0 ] && echo "install_test: ok ($(find "$dest" -type f | wc -l) files under DESTDIR)"
exit "$fail"
