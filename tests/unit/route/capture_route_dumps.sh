#!/usr/bin/env bash
# Captures the raw RTM_NEWROUTE dumps that route_test.cpp decides on: a namespace with one veth
# (eth0) carrying 198.18.7.2/24 and 2001:db8:7::2/64, and routes that make the longest-prefix
# and metric rules matter (a more specific prefix through a gateway inside the connected
# network, an on-link route of scope global, a blackhole, a default route for IPv6 only).
# Prints one hex string per family: the messages exactly as the kernel sent them; then the
# kernel's own answer (RTM_GETROUTE for one address, as the neighbour resolver asks) for a few
# addresses: "get ADDRESS HEX".
# usage (root): capture_route_dumps.sh
set -euo pipefail
NS=xlb-rcap-$$
trap 'ip netns del "$NS" 2>/dev/null || true' EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add eth0 type veth peer name peer0
ip -n "$NS" link set peer0 up
ip -n "$NS" link set eth0 up
ip -n "$NS" addr add 198.18.7.2/24 dev eth0
ip -n "$NS" addr add 2001:db8:7::2/64 dev eth0 nodad
# IPv4: no default route, so that an address outside every prefix has no route at all.
ip -n "$NS" route add 198.18.7.128/25 via 198.18.7.1
ip -n "$NS" route add 198.19.0.0/20 via 198.18.7.1
ip -n "$NS" route add 198.18.9.0/24 dev eth0 scope global
ip -n "$NS" route add blackhole 198.18.66.0/24
ip -n "$NS" route add 198.18.10.0/24 dev eth0 metric 500
ip -n "$NS" route add 198.18.10.0/24 via 198.18.7.1 metric 100
ip -n "$NS" route add 198.18.11.0/24 dev eth0 table 100
# IPv6: the kernel stores every one of these with scope global.
ip -n "$NS" -6 route add 2001:db8:7::80/122 via 2001:db8:7::1
ip -n "$NS" -6 route add 2001:db8:9::/48 via 2001:db8:7::1
ip -n "$NS" -6 route add 2001:db8:8::/64 dev eth0
ip -n "$NS" -6 route add blackhole 2001:db8:66::/48
ip -n "$NS" -6 route add 2001:db8:a::/64 dev eth0 metric 500
ip -n "$NS" -6 route add 2001:db8:a::/64 via 2001:db8:7::1 metric 100
ip -n "$NS" -6 route add 2001:db8:b::/64 dev eth0 table 100
ip -n "$NS" -6 route add default via 2001:db8:7::1
ip netns exec "$NS" python3 - <<'PY'
import os, socket, struct
RTM_NEWROUTE, RTM_GETROUTE, NLMSG_DONE, NLMSG_ERROR = 24, 26, 3, 2
NLM_F_REQUEST, NLM_F_DUMP = 1, 0x300
for name, family in (("v4", socket.AF_INET), ("v6", socket.AF_INET6)):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    s.bind((0, 0))
    rtm = struct.pack("BBBBBBBBI", family, 0, 0, 0, 0, 0, 0, 0, 0)
    s.send(struct.pack("=IHHII", 16 + len(rtm), RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + rtm)
    out, done = b"", False
    while not done:
        buf = s.recv(65536)
        off = 0
        while off + 16 <= len(buf):
            length, kind = struct.unpack_from("=IH", buf, off)
            if kind == NLMSG_DONE or kind == NLMSG_ERROR:
                done = True
                break
            if kind == RTM_NEWROUTE:
                out += buf[off:off + ((length + 3) & ~3)]
            off += (length + 3) & ~3
    s.close()
    print(name, out.hex())
RTA_DST = 1
for addr in ("2001:db8:7::21", "2001:db8:7::85", "2001:db8:7::2", "198.18.7.21", "198.18.7.200", "198.18.7.2"):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    raw = socket.inet_pton(family, addr)
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    s.bind((0, 0))
    rtm = struct.pack("BBBBBBBBI", family, len(raw) * 8, 0, 0, 0, 0, 0, 0, 0)
    attr = struct.pack("=HH", 4 + len(raw), RTA_DST) + raw
    s.send(struct.pack("=IHHII", 16 + len(rtm) + len(attr), RTM_GETROUTE, NLM_F_REQUEST, 1, 0) + rtm + attr)
    buf = s.recv(65536)
    length, kind = struct.unpack_from("=IH", buf, 0)
    assert kind == RTM_NEWROUTE, (addr, kind)
    print("get", addr, buf[:length].hex())
    s.close()
PY
