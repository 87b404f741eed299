#include "tools/xlbctl/verdict_text.hpp"

#include <arpa/inet.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstdio>
#include <cstring>
#include <sstream>
#include <vector>

#include "ctrl/dataplane/map_values.hpp"
#include "ctrl/dataplane/pinned_map.hpp"
#include "ctrl/dataplane/ring_codec.hpp"

namespace xlb::ctl {

namespace {

std::string endpoint(const std::string& addr, bool v6, std::uint16_t port) {
  return (v6 ? "[" + addr + "]" : addr) + ":" + std::to_string(port);
}

std::string mac_text(const std::uint8_t* mac) {
  char text[18];
  std::snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  return text;
}

std::string tcp_flags_text(std::uint8_t flags) {
  static constexpr std::pair<std::uint8_t, const char*> kFlags[] = {
      {0x02, "SYN"}, {0x01, "FIN"}, {0x04, "RST"}, {0x08, "PSH"}, {0x10, "ACK"}, {0x20, "URG"}};
  std::string out;
  for (const auto& [bit, name] : kFlags) {
    if (flags & bit) out += (out.empty() ? "" : "+") + std::string(name);
  }
  return out.empty() ? "no flags" : out;
}

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

// Why a packet was dropped or passed, in words, with the counter's metric label.
std::string reason_text(std::uint32_t counter) {
  const char* words = "";
  switch (counter) {
    case XLB_CTR_PASS: words = "not for a VIP"; break;
    case XLB_CTR_PASS_INACTIVE: words = "new flow to a VIP this node is not master of"; break;
    case XLB_CTR_PASS_FOREIGN_MAC: words = "sent to another host's MAC"; break;
    case XLB_CTR_DROP_MALFORMED: words = "truncated or inconsistent headers"; break;
    case XLB_CTR_DROP_NO_REAL: words = "no usable real and no sorry server"; break;
    case XLB_CTR_DROP_FRAGMENT: words = "IP fragment to a VIP"; break;
    case XLB_CTR_DROP_REAL_MISSING: words = "the chosen real has no entry"; break;
    case XLB_CTR_DROP_UNSUPPORTED: words = "protocol or extension header not handled"; break;
    case XLB_CTR_DROP_BAD_LENGTH: words = "IP length leaves no room for the transport header"; break;
    case XLB_CTR_DROP_BAD_L4_HEADER: words = "TCP data offset or UDP length out of bounds"; break;
    case XLB_CTR_DROP_BAD_DST_MAC: words = "broadcast or multicast destination MAC"; break;
    case XLB_CTR_DROP_MARTIAN_SOURCE: words = "source address no client can have"; break;
    case XLB_CTR_DROP_BAD_EXT_CHAIN: words = "IPv6 length ends inside the extension headers"; break;
    case XLB_CTR_DROP_ICMP_NOT_FOR_VIP: words = "ICMP error not about a VIP flow"; break;
    case XLB_CTR_DROP_BAD_TCP_FLAGS: words = "TCP flags no connection sends (none, SYN+FIN, SYN+RST)"; break;
    default: break;
  }
  const std::string label = dataplane::counter_name(counter);
  return *words ? std::string(words) + " [" + label + "]" : "[" + label + "]";
}

// A tunnel forward's frame (XLB_CAPTURE_F_TUNNEL) taken apart: what the outer headers say and
// where the packet inside starts.
struct Outer {
  std::string kind;     // ipip, ip6ip6, ipip over IPv6, gue, gue over IPv6
  std::string address;  // the outer destination: the real
  std::size_t inner = 0;
};

std::optional<Outer> outer_of(std::span<const std::uint8_t> f) {
  if (f.size() < 14) return std::nullopt;
  const std::uint16_t ethertype = be16(&f[12]);
  Outer out;
  std::uint8_t next = 0;
  bool v6 = false;
  if (ethertype == 0x0800 && f.size() >= 34) {
    next = f[23];
    out.address = dataplane::address_text(&f[30], XLB_FAMILY_V4);
    out.inner = 14 + (f[14] & 0xfu) * 4;
  } else if (ethertype == 0x86dd && f.size() >= 54) {
    v6 = true;
    next = f[20];
    out.address = dataplane::address_text(&f[38], XLB_FAMILY_V6);
    out.inner = 54;
  } else {
    return std::nullopt;
  }
  if (next == IPPROTO_UDP) {
    out.kind = v6 ? "gue over IPv6" : "gue";
    out.inner += 8 + 4;  // UDP, then GUE version 0 without optional fields
  } else if (next == IPPROTO_IPIP) {
    out.kind = v6 ? "ipip over IPv6" : "ipip";
  } else if (next == IPPROTO_IPV6) {
    out.kind = v6 ? "ip6ip6" : "ip6 over IPv4";
  } else {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::vector<std::uint8_t> client_frame(const xlb_capture_record& record, std::span<const std::uint8_t> frame) {
  const auto outer = (record.flags & XLB_CAPTURE_F_TUNNEL) ? outer_of(frame) : std::nullopt;
  if (!outer || frame.size() <= outer->inner) return {frame.begin(), frame.end()};
  std::vector<std::uint8_t> inner(12, 0);  // no MACs: the client's are not in the frame
  const bool v6 = frame[outer->inner] >> 4 == 6;
  inner.push_back(v6 ? 0x86 : 0x08);
  inner.push_back(v6 ? 0xdd : 0x00);
  inner.insert(inner.end(), frame.begin() + static_cast<std::ptrdiff_t>(outer->inner), frame.end());
  return inner;
}

std::string interface_name(std::uint32_t ifindex) {
  char name[IF_NAMESIZE] = {};
  if (ifindex != 0 && if_indextoname(ifindex, name)) return name;
  return "ifindex " + std::to_string(ifindex);
}

DataplaneNames::DataplaneNames(std::filesystem::path pin_dir, nlohmann::json services)
    : pin_dir_(std::move(pin_dir)), services_(std::move(services)) {
  reload();
}

void DataplaneNames::reload() {
  const std::uint64_t now = dataplane::monotonic_ns();
  if (loaded_ns_ != 0 && now - loaded_ns_ < 1'000'000'000ull) return;  // at most once a second
  loaded_ns_ = now;
  const dataplane::PinnedMap vips(pin_dir_ / "vips"), reals(pin_dir_ / "reals"), ring(pin_dir_ / "ring"),
      settings(pin_dir_ / "settings");
  if (!vips || !reals) return;
  vips_.clear();
  reals_.clear();
  shares_.clear();
  dataplane::BpfMap(vips.fd()).for_each_entry<xlb_vip_key, xlb_vip_info>(
      [&](const xlb_vip_key& key, const xlb_vip_info& info) { vips_[info.vip_id] = {key, info}; });
  const dataplane::BpfMap real_map(reals.fd());
  for (std::uint32_t id = 1; id < real_map.max_entries(); ++id) {
    const auto real = real_map.lookup<__u32, xlb_real>(id);
    if (real && real->family != 0) reals_[id] = *real;
  }
  const auto cfg = settings ? dataplane::BpfMap(settings.fd()).lookup<__u32, xlb_settings>(0) : std::nullopt;
  if (!ring || !cfg || cfg->ring_size == 0) return;
  const dataplane::RingLayout layout(cfg->ring_size);
  for (const auto& [vip_id, entry] : vips_) {
    const auto& info = std::get<1>(entry);
    for (const std::uint32_t id : layout.read_half(ring.fd(), vip_id, info.ring_slot, info.ring_len)) {
      if (id != 0) ++shares_[{vip_id, id}];
    }
  }
}

std::optional<DataplaneNames::Vip> DataplaneNames::vip(std::uint32_t vip_id) {
  if (!vips_.count(vip_id)) reload();
  const auto it = vips_.find(vip_id);
  if (it == vips_.end()) return std::nullopt;
  const auto& [key, info] = it->second;
  const bool v6 = key.family == XLB_FAMILY_V6;
  return Vip{endpoint(dataplane::address_text(key.addr, key.family), v6, ntohs(key.port)),
             dataplane::sched_name(info.sched)};
}

std::optional<DataplaneNames::Real> DataplaneNames::real(std::uint32_t vip_id, std::uint32_t real_id) {
  if (!reals_.count(real_id)) reload();
  const auto it = reals_.find(real_id);
  if (it == reals_.end()) return std::nullopt;
  const xlb_real& r = it->second;
  Real out{dataplane::address_text(r.addr, r.family), mac_text(r.dst_mac), {}, ""};
  // xlbd's configured weight, found by the VIP and the real's address.
  const auto v = vips_.find(vip_id);
  if (v != vips_.end() && services_.is_array()) {
    const auto& key = std::get<0>(v->second);
    const std::string vip_addr = dataplane::address_text(key.addr, key.family);
    for (const auto& svc : services_) {
      if (svc.value("address", "") != vip_addr || svc.value("port", 0) != ntohs(key.port) ||
          svc.value("protocol", "") != (key.proto == IPPROTO_UDP ? "UDP" : "TCP")) {
        continue;
      }
      for (const auto& real : svc.value("reals", nlohmann::json::array())) {
        if (real.value("address", "") == out.address && real.contains("weight")) {
          out.weight = real["weight"].get<unsigned>();
          out.weight_kind = "weight";
        }
      }
    }
  }
  if (!out.weight) {
    const auto share = shares_.find({vip_id, real_id});
    if (share != shares_.end()) {
      out.weight = share->second;
      out.weight_kind = "ring share";
    }
  }
  return out;
}

std::string packet_summary(std::span<const std::uint8_t> f) {
  if (f.size() < 14) return "runt frame";
  const std::uint16_t ethertype = be16(&f[12]);
  std::size_t l4 = 0;
  std::uint8_t proto = 0;
  std::string src, dst;
  bool v6 = false, ports = true;
  if (ethertype == 0x0800 && f.size() >= 34) {
    const std::size_t ihl = (f[14] & 0xf) * 4u;
    src = dataplane::address_text(&f[26], XLB_FAMILY_V4);
    dst = dataplane::address_text(&f[30], XLB_FAMILY_V4);
    proto = f[23];
    l4 = 14 + ihl;
    ports = (be16(&f[20]) & 0x1fff) == 0;  // a later fragment has no ports
  } else if (ethertype == 0x86dd && f.size() >= 54) {
    v6 = true;
    src = dataplane::address_text(&f[22], XLB_FAMILY_V6);
    dst = dataplane::address_text(&f[38], XLB_FAMILY_V6);
    proto = f[20];
    l4 = 54;
  } else {
    char text[32];
    std::snprintf(text, sizeof(text), "ethertype 0x%04x", ethertype);
    return text;
  }
  std::ostringstream out;
  if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && ports && f.size() >= l4 + 4) {
    out << endpoint(src, v6, be16(&f[l4])) << " -> " << endpoint(dst, v6, be16(&f[l4 + 2]));
    out << (proto == IPPROTO_TCP ? " TCP" : " UDP");
    if (proto == IPPROTO_TCP && f.size() >= l4 + 14) out << " " << tcp_flags_text(f[l4 + 13]);
  } else {
    out << src << " -> " << dst;
    if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
      out << (v6 ? " ICMPv6" : " ICMP");
      if (f.size() > l4) out << " type " << static_cast<unsigned>(f[l4]);
    } else {
      out << " protocol " << static_cast<unsigned>(proto);
    }
  }
  return out.str();
}

std::string verdict_text(const xlb_capture_record& r, std::span<const std::uint8_t> frame, DataplaneNames* names) {
  const bool local = r.reason == XLB_CTR_LOCAL;
  if (r.action == XDP_DROP) return "dropped: " + reason_text(r.reason);
  if (r.action == XDP_PASS && !local) return "passed to the kernel: " + reason_text(r.reason);

  std::vector<std::string> parts;
  const auto vip = names ? names->vip(r.vip_id) : std::nullopt;
  const auto real = names ? names->real(r.vip_id, r.real_id) : std::nullopt;
  const std::string real_name = real ? real->address : "real #" + std::to_string(r.real_id);
  std::string weight;
  if (real && real->weight) weight = " (" + real->weight_kind + " " + std::to_string(*real->weight) + ")";
  switch (r.path) {
    case XLB_CAPTURE_PATH_FLOW_CACHE: parts.push_back("established (flow cache), real " + real_name); break;
    case XLB_CAPTURE_PATH_CONNECTION: parts.push_back("established (connection table), real " + real_name); break;
    case XLB_CAPTURE_PATH_PERSISTENCE: parts.push_back("new flow, persistence sent it to " + real_name); break;
    case XLB_CAPTURE_PATH_SCHEDULER:
      parts.push_back("new flow, " + (vip ? vip->scheduler : std::string("scheduler")) + " picked " + real_name +
                      weight);
      break;
    case XLB_CAPTURE_PATH_SORRY: parts.push_back("new flow, no usable real: sorry server " + real_name); break;
    default: parts.push_back("real " + real_name); break;
  }
  if (r.flags & XLB_CAPTURE_F_REOPENED) parts.push_back("SYN reused an ended flow's ports");
  if (r.flags & XLB_CAPTURE_F_MIDSTREAM) parts.push_back("mid-stream without a flow (no entry written)");
  if (r.flags & XLB_CAPTURE_F_FLOW_WRITTEN) parts.push_back("connection entry written");
  if (r.flags & XLB_CAPTURE_F_PERSIST_WRITTEN) parts.push_back("persistence entry written");
  if (vip) parts.push_back("service " + vip->address);
  const auto outer = (r.flags & XLB_CAPTURE_F_TUNNEL) ? outer_of(frame) : std::nullopt;
  if (local) {
    parts.push_back("local real: to this node's stack (XDP_PASS)");
  } else if (outer) {
    // The frame as it left: the next hop's MAC first, the real's address in the outer header.
    const std::string hop = frame.size() >= 6 ? mac_text(frame.data()) : "?";
    parts.push_back("TUN " + outer->kind + " to " + outer->address + ", next hop " + hop + " via " +
                    interface_name(r.egress_ifindex) + (r.action == XDP_TX ? " (XDP_TX)" : " (redirect)"));
  } else {
    const std::string mac = frame.size() >= 6 ? mac_text(frame.data()) : real ? real->mac : "?";
    parts.push_back("DR to " + mac + " via " + interface_name(r.egress_ifindex) +
                    (r.action == XDP_TX ? " (XDP_TX)" : " (redirect)"));
  }
  std::string out = "forwarded: ";
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out;
}

std::string describe(const xlb_capture_record& record, std::span<const std::uint8_t> frame, DataplaneNames* names) {
  return packet_summary(client_frame(record, frame)) + ": " + verdict_text(record, frame, names);
}

}  // namespace xlb::ctl
