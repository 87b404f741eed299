#!/usr/bin/env bash
# Installs a build: xlbd and xlbctl (PREFIX/sbin), xlb-pktgen (PREFIX/bin), the man pages
# (PREFIX/share/man), the BIRD example (PREFIX/share/doc/xlb/examples), the systemd unit
# (/lib/systemd/system) and, only when none is there yet,
# the example /etc/xlb/xlb.conf. DESTDIR (environment) is put in front of every path, as
# packagers expect. `make install` builds what this needs first.
# usage: [DESTDIR=DIR] tools/install.sh BUILD_DIR [PREFIX]     PREFIX defaults to /usr
set -euo pipefail

build=${1:?usage: [DESTDIR=DIR] tools/install.sh BUILD_DIR [PREFIX]}
prefix=${2:-/usr}
here=$(cd "$(dirname "$0")" && pwd)
dest=${DESTDIR:-}

# Everything but the example configuration, which has a component of its own so that a
# reinstall never overwrites the operator's file (the .deb marks it a conffile instead).
DESTDIR=$dest cmake --install "$build" --prefix "$prefix" --component Unspecified

conf=$dest/etc/xlb/xlb.conf
if [ -e "$conf" ]; then
  echo "-- Kept: $conf (already there)"
else
  install -D -m 0644 "$here/../packaging/xlb.conf" "$conf"
  echo "-- Installing: $conf"
fi

# The unit names the binaries by their path; the .deb's prefix is /usr.
unit=$dest/lib/systemd/system/xlbd.service
if [ "$prefix" != /usr ]; then
  sed -i "s|/usr/sbin/xlbd|$prefix/sbin/xlbd|g" "$unit"
  echo "-- Adjusted: $unit runs $prefix/sbin/xlbd"
fi
