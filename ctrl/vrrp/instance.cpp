#include "ctrl/vrrp/instance.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

namespace xlb::vrrp {
namespace {

using boost::asio::use_awaitable;

Millis wire_interval(const InstanceSettings& s) {
  // v2 carries whole seconds; comparing and timing with the wire value keeps both sides equal.
  if (s.version == 2) return Millis{std::max<long long>(1, s.advert_int.count() / 1000) * 1000};
  return Millis{std::max<long long>(10, s.advert_int.count() / 10 * 10)};
}

bool ipv6_instance(const InstanceSettings& s) {
  if (!s.vips.empty()) return s.vips.front().address.is_v6();
  return s.unicast_src && s.unicast_src->is_v6();
}

Address default_group(bool v6) {
  return v6 ? boost::asio::ip::make_address("ff02::12") : boost::asio::ip::make_address("224.0.0.18");
}

// The source the kernel would pick towards dst (a connected UDP socket sends nothing).
Address route_source(const Address& dst) {
  int fam = dst.is_v4() ? AF_INET : AF_INET6;
  int fd = ::socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_storage ss{};
  socklen_t len;
  if (dst.is_v4()) {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(9);
    s->sin_addr.s_addr = htonl(dst.to_v4().to_uint());
    len = sizeof *s;
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(9);
    auto b = dst.to_v6().to_bytes();
    std::memcpy(&s->sin6_addr, b.data(), 16);
    len = sizeof *s;
  }
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
  int err = errno;
  socklen_t sl = sizeof ss;
  if (rc == 0) rc = ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl);
  ::close(fd);
  if (rc < 0) throw std::system_error(err, std::generic_category(), "no route to " + dst.to_string());
  if (dst.is_v4())
    return boost::asio::ip::address_v4(ntohl(reinterpret_cast<sockaddr_in*>(&ss)->sin_addr.s_addr));
  boost::asio::ip::address_v6::bytes_type b;
  std::memcpy(b.data(), &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, 16);
  return boost::asio::ip::address_v6(b);
}

std::vector<VipSettings> all_vips(const InstanceSettings& s) {
  std::vector<VipSettings> v = s.vips;
  v.insert(v.end(), s.excluded_vips.begin(), s.excluded_vips.end());
  return v;
}

FsmConfig fsm_config(const InstanceSettings& s, const Address& primary) {
  FsmConfig c;
  c.version = s.version;
  c.priority = s.priority;
  c.advert_int = wire_interval(s);
  c.initial_state = s.initial_state;
  c.nopreempt = s.nopreempt;
  c.preempt_delay = s.preempt_delay;
  c.primary = primary;
  return c;
}

Address primary_of(const InstanceSettings& s, const InterfaceInfo& ifc) {
  if (s.unicast_src) return *s.unicast_src;
  bool v6 = ipv6_instance(s);
  const auto& a = v6 ? ifc.ipv6_local : ifc.ipv4;
  if (!a)
    throw std::runtime_error("vrrp_instance " + s.name + ": interface " + ifc.name + " has no " +
                             (v6 ? "IPv6 link-local" : "IPv4") + " address");
  return *a;
}

}  // namespace

Instance::Instance(boost::asio::any_io_executor ex, InstanceSettings s, ScriptRunner runner,
                   TransitionHook hook)
    : ex_(ex),
      s_(std::move(s)),
      runner_(std::move(runner)),
      hook_(std::move(hook)),
      ifc_(query_interface(s_.interface)),
      primary_(primary_of(s_, ifc_)),
      fsm_(fsm_config(s_, primary_)),
      tracker_(s_),
      vips_(all_vips(s_), s_.interface),
      timer_(ex) {
  if (s_.version == 2 && ipv6_instance(s_))
    throw std::runtime_error("vrrp_instance " + s_.name + ": VRRP version 2 has no IPv6");
  if (s_.version == 2 && s_.advert_int != wire_interval(s_))
    spdlog::warn("vrrp_instance {}: VRRPv2 advert_int is whole seconds on the wire; using {} s "
                 "(as keepalived does)", s_.name, wire_interval(s_).count() / 1000);
  for (const auto& v : s_.vips) advertised_.push_back(v.address);
  if (!s_.auth_pass.empty())
    spdlog::warn("vrrp_instance {}: PASS authentication is cleartext and gives no security",
                 s_.name);
  open_paths();
}

Instance::~Instance() = default;

void Instance::open_paths() {
  bool v6 = ipv6_instance(s_);
  Address group = s_.mcast_group ? *s_.mcast_group : default_group(v6);
  Expectation base;
  base.version = s_.version;
  base.vrid = s_.vrid;
  base.advert_int = wire_interval(s_);
  base.auth_pass = s_.version == 2 ? s_.auth_pass : std::string();
  base.addresses = advertised_;
  base.check_unicast_src = s_.check_unicast_src;

  Path main;
  bool unicast = !s_.unicast_peers.empty();
  main.sock = std::make_unique<AdvertSocket>(ex_, ifc_, v6, unicast ? std::nullopt
                                                                     : std::optional(group));
  main.src = primary_;
  main.expect = base;
  main.expect.multicast = !unicast;
  main.expect.peers = s_.unicast_peers;
  if (unicast)
    for (const auto& p : s_.unicast_peers) main.dsts.push_back(p.address);
  else
    main.dsts.push_back(group);
  paths_.push_back(std::move(main));

  for (const auto& name : s_.extra_interfaces) {
    InterfaceInfo info = query_interface(name);
    Path p;
    const auto& a = v6 ? info.ipv6_local : info.ipv4;
    if (!a) throw std::runtime_error("vrrp_instance " + s_.name + ": extra interface " + name +
                                     " has no usable address");
    p.sock = std::make_unique<AdvertSocket>(ex_, info, v6, std::optional(group));
    p.src = *a;
    p.dsts = {group};
    p.expect = base;
    paths_.push_back(std::move(p));
  }
  if (!s_.extra_peers.empty()) {
    Path p;
    p.sock = std::make_unique<AdvertSocket>(ex_, InterfaceInfo{}, v6, std::nullopt);
    p.src = route_source(s_.extra_peers.front().address);
    for (const auto& peer : s_.extra_peers) p.dsts.push_back(peer.address);
    p.expect = base;
    p.expect.multicast = false;
    p.expect.peers = s_.extra_peers;
    paths_.push_back(std::move(p));
  }
  // Probes go where the VIPs live, which need not be the advert interface.
  if (s_.split_brain_check && !v6) {
    std::string dev = vips_.device_of(s_.vips.front());
    probe_ifc_ = dev == ifc_.name ? ifc_ : query_interface(dev);
    prober_ = std::make_unique<ArpProber>(ex_, probe_ifc_);
  }
}

void Instance::spawn(boost::asio::awaitable<void> a, const char* what) {
  boost::asio::co_spawn(ex_, std::move(a),
                        [self = shared_from_this(), what](std::exception_ptr e) {
                          if (!e || self->stopped_) return;
                          try {
                            std::rethrow_exception(e);
                          } catch (const std::exception& ex) {
                            spdlog::error("vrrp_instance {}: {} loop ended: {}", self->s_.name,
                                          what, ex.what());
                          }
                        });
}

void Instance::start() {
  if (started_) return;
  started_ = true;
  TimePoint now = Clock::now();
  tracker_.set_links(&interface_up);
  fsm_.set_tracking(tracker_.effective_priority(), tracker_.fault(), tracker_.fault_reason(), now);
  apply(fsm_.start(now));
  spawn(timer_loop(), "timer");
  for (auto& p : paths_) spawn(receive_loop(p), "receive");
  spawn(link_loop(), "link");
  for (std::size_t i = 0; i < s_.track_scripts.size(); ++i) spawn(script_loop(i), "script");
  if (prober_) {
    spawn(probe_loop(), "split-brain probe");
    spawn(probe_receive_loop(), "split-brain receive");
  }
}

void Instance::stop() {
  if (stopped_ || !started_) return;
  apply(fsm_.shutdown());
  stopped_ = true;
  vips_.release();
  timer_.cancel();
  for (auto& p : paths_) p.sock->close();
  if (prober_) prober_->close();
}

void Instance::force(State to, Reason why) {
  if (stopped_) return;
  apply(fsm_.force(to, why, Clock::now()));
}

void Instance::apply(const Output& o) {
  if (o.transition) {
    const Transition& t = *o.transition;
    if (t.to == State::master) {
      ++counters_.became_master;
      ++master_generation_;
      first_reply_.clear();
      if (auto ec = vips_.install()) {
        ++counters_.vip_errors;
        spdlog::error("vrrp_instance {}: adding VIPs: {}", s_.name, ec.message());
      }
      if (!stopped_) spawn(announce_loop(master_generation_), "announce");
    } else if (t.from == State::master) {
      ++counters_.left_master;
      ++master_generation_;
      if (auto ec = vips_.release()) {
        ++counters_.vip_errors;
        spdlog::error("vrrp_instance {}: removing VIPs: {}", s_.name, ec.message());
      }
    }
    // The hook's owner (xlbd) logs the transition at info with what it knows more.
    spdlog::debug("vrrp_instance {}: {} -> {} ({}), priority {}", s_.name, to_string(t.from),
                 to_string(t.to), to_string(t.reason), fsm_.effective_priority());
    if (hook_)
      hook_(*this, StateChange{s_.name, t.from, t.to, fsm_.effective_priority(), t.reason, false, {}});
  }
  if (o.send_advert) send_advert(o.advert_priority);
  if (!stopped_) rearm();
}

void Instance::send_advert(std::uint8_t priority) {
  Advert a;
  a.version = s_.version;
  a.vrid = s_.vrid;
  a.priority = priority;
  a.interval = wire_interval(s_);
  a.addresses = advertised_;
  if (s_.version == 2 && !s_.auth_pass.empty()) {
    a.auth_type = 1;
    a.auth_data = pass_auth_data(s_.auth_pass);
  }
  for (auto& p : paths_) {
    for (const auto& dst : p.dsts) {
      auto msg = encode(a, p.src, dst, s_.checksum_mode);
      if (auto ec = p.sock->send(msg, p.src, dst)) {
        ++counters_.send_errors;
        spdlog::debug("vrrp_instance {}: send to {}: {}", s_.name, dst.to_string(), ec.message());
      } else {
        ++counters_.adverts_sent;
        if (priority == 0) ++counters_.priority_zero_sent;
      }
    }
  }
}

void Instance::handle(const Received& r, const Path& p) {
  auto drop = [&](DropReason why) {
    ++counters_.drops[static_cast<std::size_t>(why)];
    if (why != DropReason::other_vrid && why != DropReason::own_packet)
      spdlog::debug("vrrp_instance {}: dropped advert from {}: {}", s_.name,
                    r.meta.src.to_string(), to_string(why));
  };
  if (r.ip_error != DropReason::none) return drop(r.ip_error);
  for (const auto& path : paths_)
    if (path.src == r.meta.src) return drop(DropReason::own_packet);
  Advert a;
  if (auto why = decode(r.payload, r.meta, s_.checksum_mode, a); why != DropReason::none)
    return drop(why);
  if (auto why = validate(a, r.meta, p.expect); why != DropReason::none) return drop(why);
  ++counters_.adverts_received;
  if (a.priority == 0) ++counters_.priority_zero_received;
  yielded_ = false;  // adverts reach us again: plain VRRP decides
  apply(fsm_.on_advert(PeerAdvert{a.priority, a.interval, r.meta.src}, Clock::now()));
}

void Instance::retrack(TimePoint now) {
  apply(fsm_.set_tracking(tracker_.effective_priority(), tracker_.fault(), tracker_.fault_reason(),
                          now));
}

boost::asio::awaitable<void> Instance::timer_loop() {
  while (!stopped_) {
    auto d = fsm_.next_deadline();
    timer_.expires_at(d ? *d : TimePoint::max());
    boost::system::error_code ec;
    co_await timer_.async_wait(boost::asio::redirect_error(use_awaitable, ec));
    if (stopped_) break;
    if (!ec) apply(fsm_.on_timer(Clock::now()));
  }
}

boost::asio::awaitable<void> Instance::receive_loop(Path& p) {
  while (!stopped_) {
    Received r = co_await p.sock->receive();
    if (stopped_) break;
    handle(r, p);
  }
}

boost::asio::awaitable<void> Instance::link_loop() {
  // Polling operstate keeps this independent of netlink groups; 100 ms is far below any
  // advert interval that matters for link failure.
  boost::asio::steady_timer t(ex_);
  while (!stopped_) {
    t.expires_after(Millis{100});
    co_await t.async_wait(use_awaitable);
    if (stopped_) break;
    if (tracker_.set_links(&interface_up)) retrack(Clock::now());
  }
}

boost::asio::awaitable<void> Instance::script_loop(std::size_t index) {
  const TrackScript& sc = s_.track_scripts[index];
  boost::asio::steady_timer t(ex_);
  while (!stopped_) {
    Millis timeout = sc.timeout.count() > 0 ? sc.timeout : sc.interval;
    int status = runner_ ? co_await runner_(sc.argv, timeout) : 0;
    if (stopped_) break;
    ++counters_.script_runs;
    bool was = tracker_.script_ok(index);
    if (tracker_.record_script(index, status)) retrack(Clock::now());
    if (was != tracker_.script_ok(index))
      spdlog::info("vrrp_instance {}: script {} now {}", s_.name, sc.name,
                   tracker_.script_ok(index) ? "succeeds" : "fails");
    t.expires_after(sc.interval);
    co_await t.async_wait(use_awaitable);
  }
}

Announcer& Instance::announcer_for(const std::string& dev) {
  auto& a = announcers_[dev];
  if (!a) a = std::make_unique<Announcer>(ex_, dev == ifc_.name ? ifc_ : query_interface(dev));
  return *a;
}

boost::asio::awaitable<void> Instance::announce_loop(std::uint64_t generation) {
  boost::asio::steady_timer t(ex_);
  auto still_master = [&] {
    return !stopped_ && generation == master_generation_ && fsm_.state() == State::master;
  };
  auto wait = [&](Millis d) -> boost::asio::awaitable<void> {
    t.expires_after(d);
    co_await t.async_wait(use_awaitable);
  };
  auto burst = [&](int repeat) -> boost::asio::awaitable<void> {
    for (int i = 0; i < std::max(1, repeat) && still_master(); ++i) {
      for (const auto& v : vips_.vips()) {
        try {
          if (auto ec = announcer_for(vips_.device_of(v)).announce(v.address); !ec)
            ++counters_.garp_sent;
          else
            ++counters_.send_errors;
        } catch (const std::exception& e) {
          ++counters_.send_errors;
          spdlog::warn("vrrp_instance {}: announce {}: {}", s_.name, v.address.to_string(), e.what());
        }
      }
      if (s_.garp_interval.count() > 0) co_await wait(s_.garp_interval);
    }
  };
  co_await burst(s_.garp_master_repeat);
  if (s_.garp_master_delay.count() > 0) {
    co_await wait(s_.garp_master_delay);
    co_await burst(s_.garp_master_repeat);
  }
  while (s_.garp_master_refresh.count() > 0 && still_master()) {
    co_await wait(s_.garp_master_refresh);
    co_await burst(1);
  }
}

}  // namespace xlb::vrrp
