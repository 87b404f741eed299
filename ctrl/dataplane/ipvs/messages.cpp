#include "ctrl/dataplane/ipvs/messages.hpp"

#include <arpa/inet.h>
#include <linux/ip_vs.h>
#include <netinet/in.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <array>
#include <cstring>
#include <stdexcept>

namespace xlb::dataplane::ipvs {

namespace {

void check(int err, const char* what) {
  if (err < 0) throw std::runtime_error(std::string("ipvs: building ") + what + ": " + nl_geterror(err));
}

std::uint16_t af_of(const IpAddress& a) { return a.is_v6() ? AF_INET6 : AF_INET; }

void put_addr(nl_msg* msg, int attr, const IpAddress& a) {
  if (a.is_v6()) {
    auto bytes = a.to_v6().to_bytes();
    check(nla_put(msg, attr, static_cast<int>(bytes.size()), bytes.data()), "address");
  } else {
    auto bytes = a.to_v4().to_bytes();
    check(nla_put(msg, attr, static_cast<int>(bytes.size()), bytes.data()), "address");
  }
}

// The kernel sends addresses as a 16-byte union whatever the family.
std::optional<IpAddress> get_addr(nlattr* attr, std::uint16_t af) {
  if (!attr) return std::nullopt;
  const int len = nla_len(attr);
  if (af == AF_INET6) {
    if (len < 16) return std::nullopt;
    boost::asio::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), nla_data(attr), 16);
    return IpAddress(boost::asio::ip::address_v6(b));
  }
  if (len < 4) return std::nullopt;
  boost::asio::ip::address_v4::bytes_type b;
  std::memcpy(b.data(), nla_data(attr), 4);
  return IpAddress(boost::asio::ip::address_v4(b));
}

NlMsgPtr header(int family, std::uint8_t cmd, int nl_flags) {
  NlMsgPtr msg = make_msg();
  if (!genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, nl_flags, cmd,
                   IPVS_GENL_VERSION))
    throw std::runtime_error("ipvs: genlmsg_put failed");
  return msg;
}

void put_service_nest(nl_msg* msg, const ServiceKey& key, const ServiceAttrs* attrs) {
  nlattr* nest = nla_nest_start(msg, IPVS_CMD_ATTR_SERVICE);
  if (!nest) throw std::runtime_error("ipvs: nest start failed");
  check(nla_put_u16(msg, IPVS_SVC_ATTR_AF, af_of(key.address)), "af");
  if (key.fwmark != 0) {
    check(nla_put_u32(msg, IPVS_SVC_ATTR_FWMARK, key.fwmark), "fwmark");
  } else {
    check(nla_put_u16(msg, IPVS_SVC_ATTR_PROTOCOL, static_cast<std::uint16_t>(key.protocol)),
          "protocol");
    put_addr(msg, IPVS_SVC_ATTR_ADDR, key.address);
    check(nla_put_u16(msg, IPVS_SVC_ATTR_PORT, htons(key.port)), "port");
  }
  if (attrs) {
    check(nla_put_string(msg, IPVS_SVC_ATTR_SCHED_NAME, attrs->scheduler.c_str()), "scheduler");
    // mask = all bits: SET_SERVICE replaces every flag, so that a removed flag is cleared.
    ip_vs_flags flags{attrs->flags, ~0u};
    check(nla_put(msg, IPVS_SVC_ATTR_FLAGS, sizeof flags, &flags), "flags");
    check(nla_put_u32(msg, IPVS_SVC_ATTR_TIMEOUT, attrs->timeout), "timeout");
    check(nla_put_u32(msg, IPVS_SVC_ATTR_NETMASK, attrs->netmask), "netmask");
  }
  check(nla_nest_end(msg, nest), "service nest");
}

TrafficCounters get_counters(nlattr* stats64, nlattr* stats32) {
  TrafficCounters c;
  std::array<nlattr*, IPVS_STATS_ATTR_MAX + 1> tb{};
  if (stats64 && nla_parse_nested(tb.data(), IPVS_STATS_ATTR_MAX, stats64, nullptr) == 0) {
    auto u64 = [&](int i) -> std::uint64_t { return tb[i] ? nla_get_u64(tb[i]) : 0; };
    c.new_flows = u64(IPVS_STATS_ATTR_CONNS);
    c.packets = u64(IPVS_STATS_ATTR_INPKTS) + u64(IPVS_STATS_ATTR_OUTPKTS);
    c.bytes = u64(IPVS_STATS_ATTR_INBYTES) + u64(IPVS_STATS_ATTR_OUTBYTES);
  } else if (stats32 && nla_parse_nested(tb.data(), IPVS_STATS_ATTR_MAX, stats32, nullptr) == 0) {
    auto u32 = [&](int i) -> std::uint64_t { return tb[i] ? nla_get_u32(tb[i]) : 0; };
    auto u64 = [&](int i) -> std::uint64_t { return tb[i] ? nla_get_u64(tb[i]) : 0; };
    c.new_flows = u32(IPVS_STATS_ATTR_CONNS);
    c.packets = u32(IPVS_STATS_ATTR_INPKTS) + u32(IPVS_STATS_ATTR_OUTPKTS);
    c.bytes = u64(IPVS_STATS_ATTR_INBYTES) + u64(IPVS_STATS_ATTR_OUTBYTES);
  }
  return c;
}

nlattr* top_attr(nlmsghdr* hdr, int which) {
  std::array<nlattr*, IPVS_CMD_ATTR_MAX + 1> tb{};
  if (genlmsg_parse(hdr, 0, tb.data(), IPVS_CMD_ATTR_MAX, nullptr) < 0) return nullptr;
  return tb[which];
}

}  // namespace

std::string scheduler_name(Scheduler s) {
  switch (s) {
    case Scheduler::rr: return "rr";
    case Scheduler::wrr: return "wrr";
    case Scheduler::sh: return "sh";
    case Scheduler::mh: return "mh";
    case Scheduler::lc: return "lc";
    case Scheduler::wlc: return "wlc";
  }
  throw std::invalid_argument("ipvs: unknown scheduler");
}

std::uint32_t fwd_method(Forwarding f) {
  switch (f) {
    case Forwarding::dr: return IP_VS_CONN_F_DROUTE;
    case Forwarding::nat: return IP_VS_CONN_F_MASQ;
    case Forwarding::tun: return IP_VS_CONN_F_TUNNEL;
    case Forwarding::local: return IP_VS_CONN_F_LOCALNODE;
  }
  throw std::invalid_argument("ipvs: unknown forwarding method");
}

void set_tunnel(DestSpec& dest, const TunnelSpec& tunnel) {
  dest.tun_type = dest.tun_port = dest.tun_flags = 0;
  if (dest.fwd != IP_VS_CONN_F_TUNNEL) return;
  switch (tunnel.type) {
    case TunnelSpec::Type::ipip: dest.tun_type = IP_VS_CONN_F_TUNNEL_TYPE_IPIP; return;
    case TunnelSpec::Type::gue:
      dest.tun_type = IP_VS_CONN_F_TUNNEL_TYPE_GUE;
      dest.tun_port = tunnel.port;
      break;
    case TunnelSpec::Type::gre: dest.tun_type = IP_VS_CONN_F_TUNNEL_TYPE_GRE; break;
  }
  switch (tunnel.checksum) {
    case TunnelSpec::Checksum::none: dest.tun_flags = IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM; break;
    case TunnelSpec::Checksum::csum: dest.tun_flags = IP_VS_TUNNEL_ENCAP_FLAG_CSUM; break;
    case TunnelSpec::Checksum::remcsum: dest.tun_flags = IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM; break;
  }
}

ServiceAttrs service_attrs(const ServiceSpec& spec) {
  ServiceAttrs a;
  a.scheduler = scheduler_name(spec.scheduler);
  const bool v6 = spec.key.address.is_v6();
  const unsigned host_len = v6 ? 128 : 32;
  unsigned len = spec.persistence_prefix_len;
  if (len > host_len) len = host_len;
  if (spec.persistence_timeout > 0) {
    a.flags |= IP_VS_SVC_F_PERSISTENT;
    a.timeout = spec.persistence_timeout;
  }
  // ipvsadm's defaults: /32 mask for IPv4, prefix 128 for IPv6, also without persistence.
  if (v6) {
    a.netmask = len;
  } else {
    const std::uint32_t mask = len == 0 ? 0u : ~0u << (32 - len);
    a.netmask = htonl(mask);
  }
  return a;
}

NlMsgPtr service_msg(int family, std::uint8_t cmd, const ServiceKey& key,
                     const ServiceAttrs* attrs, int nl_flags) {
  NlMsgPtr msg = header(family, cmd, nl_flags);
  put_service_nest(msg.get(), key, attrs);
  return msg;
}

NlMsgPtr dest_msg(int family, std::uint8_t cmd, const ServiceKey& key, const DestSpec& dest) {
  NlMsgPtr msg = header(family, cmd, 0);
  put_service_nest(msg.get(), key, nullptr);
  nl_msg* m = msg.get();
  nlattr* nest = nla_nest_start(m, IPVS_CMD_ATTR_DEST);
  if (!nest) throw std::runtime_error("ipvs: nest start failed");
  put_addr(m, IPVS_DEST_ATTR_ADDR, dest.address);
  check(nla_put_u16(m, IPVS_DEST_ATTR_PORT, htons(dest.port)), "dest port");
  if (cmd != IPVS_CMD_DEL_DEST) {
    check(nla_put_u32(m, IPVS_DEST_ATTR_FWD_METHOD, dest.fwd), "fwd method");
    check(nla_put_u32(m, IPVS_DEST_ATTR_WEIGHT, dest.weight), "weight");
    check(nla_put_u32(m, IPVS_DEST_ATTR_U_THRESH, 0), "u_thresh");
    check(nla_put_u32(m, IPVS_DEST_ATTR_L_THRESH, 0), "l_thresh");
    // As ipvsadm does: all three for a tunnel, so that a change back to IPIP clears the port.
    if (dest.fwd == IP_VS_CONN_F_TUNNEL) {
      check(nla_put_u8(m, IPVS_DEST_ATTR_TUN_TYPE, dest.tun_type), "tunnel type");
      check(nla_put_u16(m, IPVS_DEST_ATTR_TUN_PORT, htons(dest.tun_port)), "tunnel port");
      check(nla_put_u16(m, IPVS_DEST_ATTR_TUN_FLAGS, dest.tun_flags), "tunnel flags");
    }
  }
  // Only a real of the other family than the service needs it; sending it for the same
  // family is accepted by every kernel that knows the attribute (4.x+).
  if (dest.address.is_v6() != key.address.is_v6())
    check(nla_put_u16(m, IPVS_DEST_ATTR_ADDR_FAMILY, af_of(dest.address)), "dest af");
  check(nla_nest_end(m, nest), "dest nest");
  return msg;
}

NlMsgPtr dump_services_msg(int family) { return header(family, IPVS_CMD_GET_SERVICE, NLM_F_DUMP); }

NlMsgPtr dump_dests_msg(int family, const ServiceKey& key) {
  return service_msg(family, IPVS_CMD_GET_DEST, key, nullptr, NLM_F_DUMP);
}

NlMsgPtr flush_msg(int family) { return header(family, IPVS_CMD_FLUSH, 0); }

std::optional<KernelService> parse_service(nlmsghdr* hdr) {
  nlattr* nest = top_attr(hdr, IPVS_CMD_ATTR_SERVICE);
  if (!nest) return std::nullopt;
  std::array<nlattr*, IPVS_SVC_ATTR_MAX + 1> tb{};
  if (nla_parse_nested(tb.data(), IPVS_SVC_ATTR_MAX, nest, nullptr) < 0) return std::nullopt;
  if (!tb[IPVS_SVC_ATTR_AF]) return std::nullopt;
  KernelService s;
  const std::uint16_t af = nla_get_u16(tb[IPVS_SVC_ATTR_AF]);
  if (tb[IPVS_SVC_ATTR_FWMARK] && nla_get_u32(tb[IPVS_SVC_ATTR_FWMARK]) != 0) {
    s.key.fwmark = nla_get_u32(tb[IPVS_SVC_ATTR_FWMARK]);
    s.key.address = af == AF_INET6 ? IpAddress(boost::asio::ip::address_v6()) : IpAddress();
  } else {
    auto addr = get_addr(tb[IPVS_SVC_ATTR_ADDR], af);
    if (!addr || !tb[IPVS_SVC_ATTR_PORT] || !tb[IPVS_SVC_ATTR_PROTOCOL]) return std::nullopt;
    s.key.address = *addr;
    s.key.port = ntohs(nla_get_u16(tb[IPVS_SVC_ATTR_PORT]));
    s.key.protocol = static_cast<Protocol>(nla_get_u16(tb[IPVS_SVC_ATTR_PROTOCOL]));
  }
  if (tb[IPVS_SVC_ATTR_SCHED_NAME]) s.attrs.scheduler = nla_get_string(tb[IPVS_SVC_ATTR_SCHED_NAME]);
  if (tb[IPVS_SVC_ATTR_FLAGS] && nla_len(tb[IPVS_SVC_ATTR_FLAGS]) >= int(sizeof(ip_vs_flags))) {
    ip_vs_flags f;
    std::memcpy(&f, nla_data(tb[IPVS_SVC_ATTR_FLAGS]), sizeof f);
    // The kernel reports its internal HASHED bit too; it is not ours to compare.
    s.attrs.flags = f.flags & ~std::uint32_t{IP_VS_SVC_F_HASHED};
  }
  if (tb[IPVS_SVC_ATTR_TIMEOUT]) s.attrs.timeout = nla_get_u32(tb[IPVS_SVC_ATTR_TIMEOUT]);
  if (tb[IPVS_SVC_ATTR_NETMASK]) s.attrs.netmask = nla_get_u32(tb[IPVS_SVC_ATTR_NETMASK]);
  s.counters = get_counters(tb[IPVS_SVC_ATTR_STATS64], tb[IPVS_SVC_ATTR_STATS]);
  return s;
}

std::optional<KernelDest> parse_dest(nlmsghdr* hdr, const ServiceKey& service) {
  nlattr* nest = top_attr(hdr, IPVS_CMD_ATTR_DEST);
  if (!nest) return std::nullopt;
  std::array<nlattr*, IPVS_DEST_ATTR_MAX + 1> tb{};
  if (nla_parse_nested(tb.data(), IPVS_DEST_ATTR_MAX, nest, nullptr) < 0) return std::nullopt;
  const std::uint16_t af = tb[IPVS_DEST_ATTR_ADDR_FAMILY] ? nla_get_u16(tb[IPVS_DEST_ATTR_ADDR_FAMILY])
                                                          : af_of(service.address);
  auto addr = get_addr(tb[IPVS_DEST_ATTR_ADDR], af);
  if (!addr || !tb[IPVS_DEST_ATTR_PORT]) return std::nullopt;
  KernelDest d;
  d.dest.address = *addr;
  d.dest.port = ntohs(nla_get_u16(tb[IPVS_DEST_ATTR_PORT]));
  if (tb[IPVS_DEST_ATTR_FWD_METHOD])
    d.dest.fwd = nla_get_u32(tb[IPVS_DEST_ATTR_FWD_METHOD]) & IP_VS_CONN_F_FWD_MASK;
  if (tb[IPVS_DEST_ATTR_WEIGHT]) d.dest.weight = nla_get_u32(tb[IPVS_DEST_ATTR_WEIGHT]);
  // The kernel (5.3+) reports the tunnel of every destination; only a tunnel's is ours.
  if (d.dest.fwd == IP_VS_CONN_F_TUNNEL) {
    if (tb[IPVS_DEST_ATTR_TUN_TYPE]) d.dest.tun_type = nla_get_u8(tb[IPVS_DEST_ATTR_TUN_TYPE]);
    if (tb[IPVS_DEST_ATTR_TUN_PORT]) d.dest.tun_port = ntohs(nla_get_u16(tb[IPVS_DEST_ATTR_TUN_PORT]));
    if (tb[IPVS_DEST_ATTR_TUN_FLAGS]) d.dest.tun_flags = nla_get_u16(tb[IPVS_DEST_ATTR_TUN_FLAGS]);
  }
  if (tb[IPVS_DEST_ATTR_ACTIVE_CONNS]) d.active_conns = nla_get_u32(tb[IPVS_DEST_ATTR_ACTIVE_CONNS]);
  if (tb[IPVS_DEST_ATTR_INACT_CONNS]) d.inactive_conns = nla_get_u32(tb[IPVS_DEST_ATTR_INACT_CONNS]);
  d.counters = get_counters(tb[IPVS_DEST_ATTR_STATS64], tb[IPVS_DEST_ATTR_STATS]);
  return d;
}

}  // namespace xlb::dataplane::ipvs
