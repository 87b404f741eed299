#include "ctrl/dataplane/neighbour_resolver.hpp"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "ctrl/route/adjacency.hpp"

namespace xlb::dataplane {

namespace {

constexpr int kUsableStates = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;

struct NlAddrDeleter {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
using NlAddrPtr = std::unique_ptr<nl_addr, NlAddrDeleter>;
struct NlMsgDeleter {
  void operator()(nl_msg* m) const { nlmsg_free(m); }
};
using NlMsgPtr = std::unique_ptr<nl_msg, NlMsgDeleter>;
struct NlCbDeleter {
  void operator()(nl_cb* c) const { nl_cb_put(c); }
};
struct RouteDeleter {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
struct NeighDeleter {
  void operator()(rtnl_neigh* n) const { rtnl_neigh_put(n); }
};
struct LinkDeleter {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};

std::runtime_error nl_failure(const std::string& what, int err) {
  return std::runtime_error(what + ": " + nl_geterror(err < 0 ? -err : err));
}

int family_of(const IpAddress& a) { return a.is_v4() ? AF_INET : AF_INET6; }

NlAddrPtr to_nl(const IpAddress& a) {
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    return NlAddrPtr(nl_addr_build(AF_INET, b.data(), b.size()));
  }
  auto b = a.to_v6().to_bytes();
  return NlAddrPtr(nl_addr_build(AF_INET6, b.data(), b.size()));
}

std::optional<IpAddress> from_nl(nl_addr* a) {
  if (!a) return std::nullopt;
  const auto* p = static_cast<const unsigned char*>(nl_addr_get_binary_addr(a));
  if (nl_addr_get_family(a) == AF_INET && nl_addr_get_len(a) == 4) {
    boost::asio::ip::address_v4::bytes_type b;
    std::memcpy(b.data(), p, 4);
    return IpAddress(boost::asio::ip::address_v4(b));
  }
  if (nl_addr_get_family(a) == AF_INET6 && nl_addr_get_len(a) == 16) {
    boost::asio::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), p, 16);
    return IpAddress(boost::asio::ip::address_v6(b));
  }
  return std::nullopt;
}

std::optional<MacAddress> to_mac(nl_addr* a) {
  if (!a || nl_addr_get_len(a) != 6) return std::nullopt;
  MacAddress mac;
  std::memcpy(mac.bytes.data(), nl_addr_get_binary_addr(a), 6);
  return mac;
}

// A usable neighbour entry for (address, ifindex), from a netlink message; else nullopt.
std::optional<MacAddress> usable_neighbour(nlmsghdr* hdr, const IpAddress* want, int want_ifindex,
                                           IpAddress* got = nullptr, int* got_ifindex = nullptr) {
  if (hdr->nlmsg_type != RTM_NEWNEIGH) return std::nullopt;
  rtnl_neigh* raw = nullptr;
  if (rtnl_neigh_parse(hdr, &raw) < 0 || !raw) return std::nullopt;
  std::unique_ptr<rtnl_neigh, NeighDeleter> neigh(raw);
  if (!(rtnl_neigh_get_state(neigh.get()) & kUsableStates)) return std::nullopt;
  auto addr = from_nl(rtnl_neigh_get_dst(neigh.get()));
  if (!addr) return std::nullopt;
  const int ifindex = rtnl_neigh_get_ifindex(neigh.get());
  if (want && (*addr != *want || ifindex != want_ifindex)) return std::nullopt;
  if (got) *got = *addr;
  if (got_ifindex) *got_ifindex = ifindex;
  return to_mac(rtnl_neigh_get_lladdr(neigh.get()));
}

// Sends a request and hands every reply message to `on_reply`; returns libnl's status.
template <class F>
int transact(nl_sock* sock, nl_msg* msg, F&& on_reply) {
  if (int err = nl_send_auto(sock, msg); err < 0) return err;
  std::unique_ptr<nl_cb, NlCbDeleter> cb(nl_cb_clone(nl_socket_get_cb(sock)));
  auto trampoline = [](nl_msg* m, void* arg) -> int {
    (*static_cast<F*>(arg))(nlmsg_hdr(m));
    return NL_OK;
  };
  nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, trampoline, &on_reply);
  const int err = nl_recvmsgs(sock, cb.get());
  // libnl asks for an ACK on every request; after a reply it is still queued, and the next
  // request on this socket would read it as its own answer.
  if (err < 0) return err;
  return nl_wait_for_ack(sock);
}

NlSockPtr open_route_socket() {
  NlSockPtr sock(nl_socket_alloc());
  if (!sock) throw std::runtime_error("nl_socket_alloc failed");
  if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0) throw nl_failure("netlink route socket", err);
  return sock;
}

NlSockPtr open_neigh_subscriber() {
  NlSockPtr sock = open_route_socket();
  nl_socket_disable_seq_check(sock.get());
  if (int err = nl_socket_add_membership(sock.get(), RTNLGRP_NEIGH); err < 0) {
    throw nl_failure("subscribing to neighbour events", err);
  }
  nl_socket_set_nonblocking(sock.get());
  return sock;
}

}  // namespace

std::string MacAddress::str() const {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2], bytes[3], bytes[4],
                bytes[5]);
  return buf;
}

void NlSockDeleter::operator()(nl_sock* sock) const { nl_socket_free(sock); }

NeighbourResolver::NeighbourResolver(boost::asio::io_context& io)
    : io_(io), request_(open_route_socket()), routes_timer_(io) {}

NeighbourResolver::~NeighbourResolver() {
  if (events_fd_) {
    // The descriptor belongs to the netlink socket, which closes it.
    events_fd_->cancel();
    events_fd_->release();
  }
}

Egress NeighbourResolver::egress(const IpAddress& address) {
  Egress out = route(address);
  if (out.gateway) {
    throw NotAdjacentError("real server " + address.to_string() + " is reached through gateway " +
                           out.gateway->to_string() + " on " + out.ifname +
                           ": direct routing (lb_kind DR) needs the real server on a directly connected "
                           "network (layer-2 adjacency)");
  }
  out.source.reset();
  return out;
}

Egress NeighbourResolver::route(const IpAddress& address) {
  rtmsg rtm{};
  rtm.rtm_family = static_cast<unsigned char>(family_of(address));
  rtm.rtm_dst_len = address.is_v4() ? 32 : 128;
  NlMsgPtr msg(nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_REQUEST));
  auto dst = to_nl(address);
  if (!msg || !dst || nlmsg_append(msg.get(), &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
      nla_put_addr(msg.get(), RTA_DST, dst.get()) < 0) {
    throw std::runtime_error("building a route request");
  }
  std::unique_ptr<rtnl_route, RouteDeleter> chosen;
  std::optional<route::RouteRecord> record;
  const int err = transact(request_.get(), msg.get(), [&](nlmsghdr* hdr) {
    rtnl_route* raw = nullptr;
    if (hdr->nlmsg_type == RTM_NEWROUTE && rtnl_route_parse(hdr, &raw) >= 0) {
      chosen.reset(raw);
      record = route::to_record(raw);
    }
  });
  const std::string who = "real server " + address.to_string();
  if (err < 0) throw nl_failure(who + ": no route", err);
  if (!chosen || !record) throw std::runtime_error(who + ": no route");
  // The kernel chose the route (policy rules included); whether it reaches the real without a
  // gateway is the same rule configuration validation applies to a dump (route/adjacency.hpp).
  const route::Reach reach = route::classify(*record);
  if (reach == route::Reach::local) {
    Egress local;
    local.local = true;
    return local;
  }
  if (reach != route::Reach::direct && reach != route::Reach::via_gateway) {
    throw std::runtime_error(who + ": route is " + route::to_string(reach));
  }
  rtnl_nexthop* nh = rtnl_route_nexthop_n(chosen.get(), 0);
  Egress out;
  out.ifindex = rtnl_route_nh_get_ifindex(nh);
  rtnl_link* raw_link = nullptr;
  if (int lerr = rtnl_link_get_kernel(request_.get(), out.ifindex, nullptr, &raw_link); lerr < 0) {
    throw nl_failure(who + ": egress interface " + std::to_string(out.ifindex), lerr);
  }
  std::unique_ptr<rtnl_link, LinkDeleter> link(raw_link);
  out.ifname = rtnl_link_get_name(link.get()) ? rtnl_link_get_name(link.get()) : "";
  if (reach == route::Reach::via_gateway) {
    for (int i = 0; i < rtnl_route_get_nnexthops(chosen.get()) && !out.gateway; ++i) {
      out.gateway = from_nl(rtnl_route_nh_get_gateway(rtnl_route_nexthop_n(chosen.get(), i)));
    }
    if (!out.gateway) throw std::runtime_error(who + ": route through a gateway without an address");
  }
  out.source = from_nl(rtnl_route_get_pref_src(chosen.get()));
  auto mac = to_mac(rtnl_link_get_addr(link.get()));
  if (!mac) throw std::runtime_error(who + ": egress interface " + out.ifname + " has no Ethernet address");
  out.mac = *mac;
  return out;
}

std::optional<MacAddress> NeighbourResolver::lookup(const IpAddress& address, int ifindex) {
  ndmsg ndm{};
  ndm.ndm_family = static_cast<unsigned char>(family_of(address));
  ndm.ndm_ifindex = ifindex;
  NlMsgPtr msg(nlmsg_alloc_simple(RTM_GETNEIGH, NLM_F_REQUEST));
  auto dst = to_nl(address);
  if (!msg || !dst || nlmsg_append(msg.get(), &ndm, sizeof(ndm), NLMSG_ALIGNTO) < 0 ||
      nla_put_addr(msg.get(), NDA_DST, dst.get()) < 0) {
    throw std::runtime_error("building a neighbour request");
  }
  std::optional<MacAddress> mac;
  const int err = transact(request_.get(), msg.get(), [&](nlmsghdr* hdr) {
    if (auto m = usable_neighbour(hdr, &address, ifindex)) mac = m;
  });
  if (err < 0 && err != -NLE_OBJ_NOTFOUND) throw nl_failure("neighbour lookup " + address.to_string(), err);
  return mac;
}

void NeighbourResolver::trigger_resolution(const IpAddress& address, int ifindex) {
  // NTF_USE makes the kernel treat the entry as used, which starts ARP/ND for it, without
  // sending anything to the real server ourselves.
  ndmsg ndm{};
  ndm.ndm_family = static_cast<unsigned char>(family_of(address));
  ndm.ndm_ifindex = ifindex;
  ndm.ndm_flags = NTF_USE;
  NlMsgPtr msg(nlmsg_alloc_simple(RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK));
  auto dst = to_nl(address);
  int err = -NLE_NOMEM;
  if (msg && dst && nlmsg_append(msg.get(), &ndm, sizeof(ndm), NLMSG_ALIGNTO) >= 0 &&
      nla_put_addr(msg.get(), NDA_DST, dst.get()) >= 0) {
    err = nl_send_auto(request_.get(), msg.get());
    if (err >= 0) err = nl_wait_for_ack(request_.get());
  }
  if (err >= 0) return;
  // Fallback: a datagram to the discard port makes the kernel resolve the next hop.
  const int fd = ::socket(family_of(address), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  boost::asio::ip::udp::endpoint ep(address, 9);
  ::sendto(fd, "", 0, MSG_DONTWAIT, ep.data(), static_cast<socklen_t>(ep.size()));
  ::close(fd);
}

std::optional<MacAddress> NeighbourResolver::resolve(const IpAddress& address, int ifindex,
                                                     std::chrono::milliseconds timeout) {
  // Most reals are in the table already: a subscription (a socket, a bind, a group join) for
  // each was 12% of applying 10,000 services. For the rest, subscribe, then look again before
  // asking, so that an answer landing in between is not missed.
  if (auto mac = lookup(address, ifindex)) return mac;
  NlSockPtr events = open_neigh_subscriber();
  if (auto mac = lookup(address, ifindex)) return mac;
  trigger_resolution(address, ifindex);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<MacAddress> found;
  std::unique_ptr<nl_cb, NlCbDeleter> cb(nl_cb_clone(nl_socket_get_cb(events.get())));
  struct Ctx {
    const IpAddress* address;
    int ifindex;
    std::optional<MacAddress>* found;
  } ctx{&address, ifindex, &found};
  nl_cb_set(
      cb.get(), NL_CB_VALID, NL_CB_CUSTOM,
      [](nl_msg* m, void* arg) -> int {
        auto* c = static_cast<Ctx*>(arg);
        if (auto mac = usable_neighbour(nlmsg_hdr(m), c->address, c->ifindex)) *c->found = mac;
        return NL_OK;
      },
      &ctx);
  while (!found) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{nl_socket_get_fd(events.get()), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    if (nl_recvmsgs(events.get(), cb.get()) == -NLE_NOMEM) break;  // overrun: ask the table below
  }
  return found ? found : lookup(address, ifindex);
}

void NeighbourResolver::open_events() {
  if (events_) return;
  events_ = open_neigh_subscriber();
  events_fd_ = std::make_unique<boost::asio::posix::stream_descriptor>(io_, nl_socket_get_fd(events_.get()));
  nl_socket_modify_cb(
      events_.get(), NL_CB_VALID, NL_CB_CUSTOM,
      [](nl_msg* m, void* arg) -> int {
        auto* self = static_cast<NeighbourResolver*>(arg);
        const nlmsghdr* hdr = nlmsg_hdr(m);
        switch (hdr->nlmsg_type) {
          case RTM_NEWROUTE:
          case RTM_DELROUTE:
            // The local table changes with every address added or removed (VRRP moving a
            // VIP), and it never decides how a real server is reached.
            if (nlmsg_datalen(hdr) >= static_cast<int>(sizeof(rtmsg)) &&
                static_cast<const rtmsg*>(nlmsg_data(hdr))->rtm_table == RT_TABLE_LOCAL) {
              return NL_OK;
            }
            self->routes_changed();
            return NL_OK;
          case RTM_NEWLINK:
          case RTM_DELLINK:
            self->routes_changed();
            return NL_OK;
          default:
            break;
        }
        IpAddress addr;
        int ifindex = 0;
        if (auto mac = usable_neighbour(nlmsg_hdr(m), nullptr, 0, &addr, &ifindex); mac && self->callback_) {
          self->callback_(addr, ifindex, *mac);
        }
        return NL_OK;
      },
      this);
  arm_watch();
}

void NeighbourResolver::watch(Callback callback) {
  callback_ = std::move(callback);
  open_events();
}

void NeighbourResolver::watch_routes(RoutesCallback callback) {
  routes_callback_ = std::move(callback);
  open_events();
  for (const int group : {RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_LINK}) {
    if (int err = nl_socket_add_membership(events_.get(), group); err < 0) {
      throw nl_failure("subscribing to route and link events", err);
    }
  }
}

void NeighbourResolver::routes_changed() {
  if (!routes_callback_ || routes_pending_) return;
  routes_pending_ = true;
  routes_timer_.expires_after(kRouteSettle);
  routes_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // cancelled: the resolver is going away
    routes_pending_ = false;
    routes_callback_();
  });
}

void NeighbourResolver::arm_watch() {
  events_fd_->async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
    if (ec) return;  // cancelled: the resolver is going away
    // Errors here (an overrun) lose some notifications; the next change of the entry is
    // still seen, and apply() looks the table up afresh.
    nl_recvmsgs_default(events_.get());
    arm_watch();
  });
}

}  // namespace xlb::dataplane
