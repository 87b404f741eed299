#!/usr/bin/env bash
# Makes sure /sys/fs/bpf is a bpffs (a fresh machine may not have it mounted).
set -euo pipefail
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != "bpf_fs" ]; then
  mount -t bpf bpf /sys/fs/bpf
fi
