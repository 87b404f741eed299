# Sourced by the lab scripts: the pieces every DR topology is made of. Callers set SW (the
# switch namespace with bridge br0), VIP and STATE.

# lab_host NS IP SWPORT: a namespace with eth0 plugged into the bridge through veth SWPORT.
lab_host() {
  local ns=$1 ip=$2 port=$3
  ip netns add "$ns"
  ip link add eth0 netns "$ns" type veth peer name "$port" netns "$SW"
  ip -n "$SW" link set "$port" master br0 up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
}

# lab_web_root NAME: a web root whose index.html names NAME.
lab_web_root() {
  mkdir -p "$STATE/www-$1"
  echo "$1" >"$STATE/www-$1/index.html"
}

# lab_dr_real NS NAME: the VIP on lo, ARP quiet about it (DR), a web root that names NAME.
lab_dr_real() {
  local ns=$1 name=$2
  ip -n "$ns" addr add "$VIP/32" dev lo
  for c in all eth0; do
    ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$c.arp_ignore=1" "net.ipv4.conf.$c.arp_announce=2"
  done
  lab_web_root "$name"
}

# lab_http NS NAME PIDFILE [BIND]: an HTTP server on port 80 answering with NAME; returns once it
# listens. BIND 0.0.0.0 (default) or :: (IPv6 and IPv4).
lab_http() {
  lab_http_start "$@" && lab_http_wait "$1" "$2" "${4:-0.0.0.0}"
}

# lab_http_start NS NAME PIDFILE [BIND] starts the server without waiting for it: a lab that starts
# several overlaps their start-up (seconds each under emulation), then calls lab_http_wait.
lab_http_start() {
  local ns=$1 name=$2 pidfile=$3 bind=${4:-0.0.0.0}
  ip netns exec "$ns" python3 -m http.server 80 --bind "$bind" --directory "$STATE/www-$name" \
    >>"$STATE/http-$name.log" 2>&1 &
  echo $! >"$pidfile"
}

# lab_http_wait NS NAME [BIND]: until the server answers on the namespace's loopback.
lab_http_wait() {
  local ns=$1 name=$2 loop=127.0.0.1
  [ "${3:-}" = "::" ] && loop=::1
  for _ in $(seq 100); do
    if ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/$loop/80" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "http server $name in $ns did not start" >&2
  return 1
}

# alive PID: running and not a zombie. Our servers outlive the script that started them, so
# whoever reaps them may be slow, and kill -0 succeeds on a zombie.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ]
}

# stop_pid FILE: SIGTERM, then SIGKILL after 3 s; only the process whose pid we recorded.
stop_pid() {
  local file=$1 pid
  [ -e "$file" ] || return 0
  pid=$(cat "$file")
  if [ -n "$pid" ] && alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 30); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$file"
}

# lab_xlbd NS BUILD_DIR CONF NAME [XLBD_ARGS...]: xlbd from BUILD_DIR in NS, on eth0, with its
# pins in $STATE/bpf/NAME (the caller mounted a bpffs on $STATE/bpf: /sys/fs/bpf is none inside
# `ip netns exec`), control socket $STATE/NAME.sock, log $STATE/xlbd-NAME.log and the pid in
# $STATE/run-xlbd-NAME.pid; returns once the socket exists. XLB_LAB_XLBD_WRAP: a command prefix
# that execs xlbd under restrictions (for example the systemd unit's capability bounding set and
# rlimits through prlimit and setpriv); it must exec, so that the recorded pid stays xlbd's.
lab_xlbd() {
  local ns=$1 build=$2 conf=$3 name=$4
  shift 4
  mkdir -p "$STATE/bpf/$name"
  # shellcheck disable=SC2086  # the prefix is words on purpose
  ip netns exec "$ns" env LIBXDP_BPFFS="$STATE/bpf" ${XLB_LAB_XLBD_WRAP:-} \
    "$build/ctrl/xlbd" -f "$conf" --interface eth0 --pin-dir "$STATE/bpf/$name" \
    --socket "$STATE/$name.sock" -p "$STATE/xlbd-$name.pid" "$@" >>"$STATE/xlbd-$name.log" 2>&1 &
  echo $! >"$STATE/run-xlbd-$name.pid"
  for _ in $(seq 100); do
    [ -S "$STATE/$name.sock" ] && return 0
    alive "$(cat "$STATE/run-xlbd-$name.pid")" || break
    sleep 0.1
  done
  echo "xlbd $name did not start; its log:" >&2
  tail -n 20 "$STATE/xlbd-$name.log" >&2
  return 1
}

# lab_xlbd_kill NAME [SIG]: signals lab_xlbd's xlbd NAME (default KILL) and waits for it to go.
lab_xlbd_kill() {
  local name=$1 sig=${2:-KILL} file="$STATE/run-xlbd-$1.pid" pid
  pid=$(cat "$file")
  kill -"$sig" "$pid"
  for _ in $(seq 50); do alive "$pid" || break; sleep 0.05; done
  rm -f "$file" "$STATE/$name.sock"
}
