#include "ctrl/sync/flow_sync.hpp"

#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <random>
#include <stdexcept>
#include <system_error>

#include <spdlog/spdlog.h>

namespace xlb::sync {
namespace asio = boost::asio;
using asio::ip::udp;

namespace {

std::uint64_t clock_ns(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

void set_option(int fd, int level, int name, const void* value, socklen_t len, const char* what) {
  if (::setsockopt(fd, level, name, value, len) != 0) {
    throw std::system_error(errno, std::generic_category(), std::string("flow sync: ") + what);
  }
}

// Spreads refreshes over refresh_scans scans; only needs to be stable within this process.
std::uint32_t spread(const dataplane::SyncedFlow& f) {
  std::uint32_t h = 2166136261u ^ f.client_port;
  const auto s = f.client.to_string();
  for (char c : s) h = (h ^ static_cast<std::uint8_t>(c)) * 16777619u;
  return h;
}

std::uint64_t steady_ns(std::chrono::steady_clock::time_point t) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

FlowSyncSettings checked(FlowSyncSettings s) {
  if (s.max_datagrams_per_second == 0) throw std::invalid_argument("flow sync: a send rate of 0 datagrams/s");
  if (s.refresh_scans == 0) s.refresh_scans = 1;
  if (s.pace_interval <= std::chrono::milliseconds(0)) s.pace_interval = std::chrono::milliseconds(10);
  if (s.peer_port == 0) s.peer_port = s.port;
  return s;
}

// One pacing slice's worth of datagrams (and never less than one batch to every peer).
double slice_budget(const FlowSyncSettings& s) {
  const double slice = static_cast<double>(s.max_datagrams_per_second) *
                       std::chrono::duration<double>(s.pace_interval).count();
  return std::max(slice, static_cast<double>(std::max<std::size_t>(1, s.peers.size())));
}

// The receive buffer holds half a second at the configured rate: what arrives while a
// backup's single thread is busy elsewhere (a reload of 1,000 virtual servers takes ~250 ms).
// The kernel doubles the value asked for; a 1,344-byte datagram occupies ~2,300 bytes of it
// (its truesize, measured on loopback and veth), hence 1,200 bytes asked per datagram.
int receive_buffer_bytes(const FlowSyncSettings& s) {
  const double bytes = static_cast<double>(s.max_datagrams_per_second) * 0.5 * 1200.0;
  return static_cast<int>(std::clamp(bytes, 1.0 * (1 << 20), 64.0 * (1 << 20)));
}

}  // namespace

SyncEntry to_entry(const dataplane::SyncedFlow& f) {
  SyncEntry e;
  e.kind = f.persist ? EntryKind::persist : EntryKind::flow;
  e.protocol = static_cast<std::uint8_t>(f.service.protocol);
  e.vip = f.vip;
  e.vip_port = f.vip_port;
  e.service_port = f.service.port;
  e.client = f.client;
  e.client_port = f.client_port;
  e.real = f.real;
  e.real_port = f.real_port;
  return e;
}

dataplane::SyncedFlow from_entry(const SyncEntry& e) {
  dataplane::SyncedFlow f;
  f.persist = e.kind == EntryKind::persist;
  f.service.address = e.vip;
  f.service.port = e.service_port;
  f.service.protocol = static_cast<dataplane::Protocol>(e.protocol);
  f.vip = e.vip;
  f.vip_port = e.vip_port;
  f.client = e.client;
  f.client_port = e.client_port;
  f.real = e.real;
  f.real_port = e.real_port;
  return f;
}

FlowSync::FlowSync(asio::any_io_executor executor, FlowSyncSettings settings, FlowSyncHooks hooks)
    : executor_(executor),
      settings_(checked(std::move(settings))),
      hooks_(std::move(hooks)),
      socket_(executor),
      timer_(executor),
      freshness_(clock_ns(CLOCK_REALTIME) / 1'000'000, settings_.max_clock_skew),
      sender_(std::random_device{}()),
      epoch_(clock_ns(CLOCK_REALTIME)),
      bucket_(settings_.max_datagrams_per_second, slice_budget(settings_), steady_ns(std::chrono::steady_clock::now())),
      backlog_(settings_.max_backlog) {
  open_socket();
}

FlowSync::~FlowSync() { stop(); }

void FlowSync::open_socket() {
  const bool v6 = settings_.peers.empty() ? settings_.group.is_v6() : settings_.peers.front().is_v6();
  socket_.open(v6 ? udp::v6() : udp::v4());
  const int fd = socket_.native_handle();
  const unsigned ifindex = ::if_nametoindex(settings_.interface.c_str());
  if (ifindex == 0) throw std::runtime_error("flow sync: no interface " + settings_.interface);
  // Sync datagrams must neither leave nor be accepted through any other interface.
  set_option(fd, SOL_SOCKET, SO_BINDTODEVICE, settings_.interface.c_str(),
             static_cast<socklen_t>(settings_.interface.size()), "SO_BINDTODEVICE");
  socket_.set_option(udp::socket::reuse_address(true));
  // FORCE goes past net.core.rmem_max/wmem_max; it needs CAP_NET_ADMIN, which xlbd has
  // (unprivileged tests get what the limit allows).
  const int rcvbuf = receive_buffer_bytes(settings_);
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  }
  // Room for two slices in flight (doubled by the kernel as above), so that a slice's sends
  // never wait for the buffer.
  const int sndbuf = static_cast<int>(std::clamp(2.0 * bucket_.capacity() * 1200.0, 256.0 * 1024, 64.0 * (1 << 20)));
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  }
  socket_.bind(udp::endpoint(v6 ? udp::v6() : udp::v4(), settings_.port));
  if (!settings_.peers.empty()) return;
  if (v6) {
    socket_.set_option(asio::ip::multicast::join_group(settings_.group.to_v6(), ifindex));
    socket_.set_option(asio::ip::multicast::outbound_interface(ifindex));
  } else {
    ip_mreqn mreq{};
    mreq.imr_multiaddr.s_addr = htonl(settings_.group.to_v4().to_uint());
    mreq.imr_ifindex = static_cast<int>(ifindex);
    set_option(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq), "IP_ADD_MEMBERSHIP");
    set_option(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof(mreq), "IP_MULTICAST_IF");
  }
  socket_.set_option(asio::ip::multicast::enable_loopback(false));
  socket_.set_option(asio::ip::multicast::hops(1));
}

void FlowSync::start() {
  if (running_) return;
  running_ = true;
  auto log_end = [name = settings_.instance](const char* what) {
    return [name, what](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const boost::system::system_error& se) {
        if (se.code() != asio::error::operation_aborted) spdlog::error("flow sync {}: {} ended: {}", name, what, se.what());
      } catch (const std::exception& ex) {
        spdlog::error("flow sync {}: {} ended: {}", name, what, ex.what());
      }
    };
  };
  asio::co_spawn(executor_, receive_loop(), log_end("receiver"));
  asio::co_spawn(executor_, scan_loop(), log_end("scanner"));
  if (settings_.all_peers) {
    master_ = true;  // every peer sends what it makes
    synced_ = false;
    join_deadline_ = std::chrono::steady_clock::now() + settings_.join_wait;
    send_flags(sync_flag_join);
  }
}

void FlowSync::stop() {
  if (!running_) return;
  running_ = false;
  boost::system::error_code ignored;
  socket_.cancel(ignored);
  timer_.cancel();
}

void FlowSync::set_master(bool master) {
  if (master && !master_) last_scan_ns_ = 0;  // a new master first sends its whole table
  // A backup has nothing to send; what was queued is stale by the time it is master again
  // (its first scan then sends everything anyway).
  if (!master && master_) drop_backlog();
  master_ = master;
}

void FlowSync::drop_backlog() {
  const std::size_t n = backlog_.clear();
  if (n == 0) return;
  counters_.entries_dropped += n;
  spdlog::info("flow sync {}: no longer master, {} queued entries not sent", settings_.instance, n);
}

// One coroutine does both jobs: a scan every scan_interval, and while entries wait for the
// budget, a slice every pace_interval. It sleeps until the next scan when nothing waits.
asio::awaitable<void> FlowSync::scan_loop() {
  using clock = std::chrono::steady_clock;
  next_scan_ = clock::now() + settings_.scan_interval;
  while (running_) {
    auto wake = next_scan_;
    if (master_ && !backlog_.empty()) wake = std::min(wake, last_slice_ + settings_.pace_interval);
    if (!synced_) wake = std::min(wake, join_deadline_);
    timer_.expires_at(wake);
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!running_) break;
    // Woken early (scan_now, or a cancel): only recompute the wake-up time.
    const auto now = clock::now();
    try {
      if (!synced_ && now >= join_deadline_) {
        end_join("wait_ended", "no peer sent its table within the join wait");
      } else if (!synced_ && now >= next_scan_) {
        send_flags(sync_flag_join);  // asked again each scan: a peer may have missed it
      }
      if (now >= next_scan_) {
        next_scan_ = now + settings_.scan_interval;
        if (master_) scan();
      } else if (master_ && !backlog_.empty() && now >= last_slice_ + settings_.pace_interval) {
        pump(0);
      }
    } catch (const std::exception& e) {
      ++counters_.send_errors;
      spdlog::warn("flow sync {}: scan failed: {}", settings_.instance, e.what());
    }
  }
}

void FlowSync::scan_now() {
  scan();
  // The loop may be asleep until the next scan: it must now pace out the backlog.
  if (running_) timer_.cancel();
}

void FlowSync::scan() {
  if (bulk_owed_) {
    // A peer joined: this scan sends the whole table, and bulk_done once it has all left.
    bulk_owed_ = false;
    bulk_in_flight_ = true;
    last_scan_ns_ = 0;
    ++counters_.bulk_sends;
  }
  const std::uint64_t now = clock_ns(CLOCK_MONOTONIC);
  const bool everything = last_scan_ns_ == 0;
  // The program stamps entries with the coarse clock, a tick behind CLOCK_MONOTONIC: look
  // back a little so that a flow created just before the last scan still counts as new.
  constexpr std::uint64_t coarse_slack_ns = 20'000'000;
  const std::uint64_t since = last_scan_ns_ > coarse_slack_ns ? last_scan_ns_ - coarse_slack_ns : 0;
  // A new master's table goes out behind the flows of the last interval, which a backup is
  // the least likely to have.
  const std::uint64_t interval_ns =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(settings_.scan_interval).count());
  const std::uint64_t recent = everything ? (now > interval_ns + coarse_slack_ns ? now - interval_ns - coarse_slack_ns : 0)
                                          : since;
  const std::uint64_t scan_id = ++scan_number_;
  ++counters_.scans;
  // A refresh share is taken only once the previous one (or a takeover's table) has left:
  // a short budget stretches the refresh cycle instead of piling up copies of the table.
  const bool refresh_now = everything || backlog_.refresh_size() == 0;
  if (everything) backlog_.clear();  // superseded by the whole table
  if (!refresh_now) ++counters_.refreshes_postponed;
  const std::uint32_t turn = static_cast<std::uint32_t>(refresh_turn_ % settings_.refresh_scans);
  if (refresh_now && !everything) ++refresh_turn_;
  for (const auto& f : hooks_.collect(everything ? 0 : since)) {
    const bool fresh = f.created_ns >= recent || (!everything && f.persist);
    if (!fresh && (!refresh_now || (!everything && spread(f) % settings_.refresh_scans != turn))) continue;
    counters_.entries_dropped +=
        backlog_.push(to_entry(f), fresh ? SyncBacklog::Lane::fresh : SyncBacklog::Lane::refresh, scan_id);
  }
  last_scan_ns_ = now;
  pump(scan_id);
}

void FlowSync::pump(std::uint64_t scan) {
  // One clock reading for both: the next slice, woken at last_slice_ + pace_interval, then
  // finds at least a full slice's worth of budget credited.
  last_slice_ = std::chrono::steady_clock::now();
  bucket_.refill(steady_ns(last_slice_));
  const double cost = static_cast<double>(destinations());
  bool sent = false;
  std::vector<SyncEntry> batch;
  batch.reserve(max_entries_per_packet);
  while (!backlog_.empty() && bucket_.take(cost)) {
    counters_.entries_deferred += backlog_.pop(max_entries_per_packet, batch, scan);
    send_batch(batch);
    sent = true;
  }
  if (sent) ++counters_.slices;
  if (bulk_in_flight_ && backlog_.empty()) {
    bulk_in_flight_ = false;
    // Still joining: what was sent is all this node has, maybe less than its peers.
    send_flags(synced_ ? sync_flag_bulk_done : sync_flag_bulk_done | sync_flag_joining);
  }
}

void FlowSync::send_flags(std::uint8_t flags) {
  std::vector<SyncEntry> none;
  send_batch(none, flags);
}

void FlowSync::end_join(const char* how, const char* why) {
  if (synced_) return;
  synced_ = true;
  join_end_ = how;
  spdlog::info("flow sync {}: synced: {}", settings_.instance, why);
  if (hooks_.synced) hooks_.synced();
}

void FlowSync::send_batch(std::vector<SyncEntry>& batch, std::uint8_t flags) {
  SyncPacket p;
  p.header = {settings_.sync_id, sender_, epoch_, ++sequence_, clock_ns(CLOCK_REALTIME) / 1'000'000, flags};
  p.entries = std::move(batch);
  batch.clear();
  const auto wire = encode(p, settings_.key);
  auto send_to = [&](const udp::endpoint& to) {
    boost::system::error_code ec;
    socket_.send_to(asio::buffer(wire), to, 0, ec);
    if (ec) {
      // Counted, not fatal: a lost datagram costs only its entries until their next refresh.
      ++counters_.send_errors;
      return;
    }
    ++counters_.packets_sent;
    counters_.entries_sent += p.entries.size();
    counters_.bytes_sent += wire.size();
  };
  if (settings_.peers.empty()) {
    send_to(udp::endpoint(settings_.group, settings_.peer_port));
  } else {
    for (const auto& peer : settings_.peers) send_to(udp::endpoint(peer, settings_.peer_port));
  }
}

asio::awaitable<void> FlowSync::receive_loop() {
  std::array<std::uint8_t, 2048> buffer{};
  udp::endpoint from;
  while (running_) {
    const auto n = co_await socket_.async_receive_from(asio::buffer(buffer), from, asio::use_awaitable);
    handle_datagram(std::span<const std::uint8_t>(buffer.data(), n));
  }
}

void FlowSync::handle_datagram(std::span<const std::uint8_t> data) {
  ++counters_.packets_received;
  std::error_code ec;
  auto packet = decode(data, settings_.key, ec);
  if (!packet) return count_decode_error(ec, data);
  if (packet->header.sync_id != settings_.sync_id) {
    ++counters_.rejected_sync_id;
    return;
  }
  if (packet->header.sender == sender_) return;
  if (!fresh(packet->header)) return;
  if (!replay_.accept(packet->header.sender, packet->header.epoch, packet->header.sequence)) {
    ++counters_.rejected_replay;
    return;
  }
  const auto& h = packet->header;
  if (settings_.all_peers && (h.flags & sync_flag_join) != 0) {
    auto [seen, first] = joins_seen_.try_emplace(h.sender, h.epoch);
    if (first || seen->second != h.epoch) {
      seen->second = h.epoch;
      ++counters_.joins_answered;
      bulk_owed_ = true;
      // Now rather than at the next scan: the joiner waits for this table before it announces.
      next_scan_ = std::chrono::steady_clock::now();
      if (running_) timer_.cancel();
    }
  }
  // A master keeps its own decisions; what a peer claims matters only to a backup. Peers
  // (all_peers) install each other's; the install hook keeps a flow this node already serves.
  if (master_ && !settings_.all_peers) return;
  for (const auto& e : packet->entries) {
    bool ok = false;
    try {
      ok = hooks_.install(from_entry(e));
    } catch (const std::exception&) {
      ok = false;
    }
    ok ? ++counters_.entries_installed : ++counters_.entries_unknown;
  }
  if (!synced_ && (h.flags & sync_flag_bulk_done) != 0) {
    if ((h.flags & sync_flag_joining) == 0) return end_join("peer_table", "a peer's whole table arrived");
    // Two nodes that start together ask each other and neither has flows: waiting the whole
    // join_wait for each other would gain nothing. A peer that has flows may still be slow,
    // so only when every peer answered like this.
    joining_answers_.insert(h.sender);
    if (joining_answers_.size() >= destinations())
      end_join("peers_joining", "every peer answered and is joining too");
  }
}

void FlowSync::count_decode_error(std::error_code ec, std::span<const std::uint8_t> data) {
  // Apart, so that a key mismatch between nodes is not lost among stray datagrams.
  if (ec == make_error_code(DecodeError::bad_mac)) {
    ++counters_.rejected_auth;
    return;
  }
  ++counters_.rejected_malformed;
  // During a rolling upgrade the two versions refuse each other; say so once per version
  // rather than leave the operator with a rising malformed count.
  if (ec == make_error_code(DecodeError::bad_version) && data[4] != warned_version_) {
    warned_version_ = data[4];
    spdlog::warn("flow sync {}: a peer sends version {} datagrams, this node speaks version {}; sync between them "
                 "resumes when both run the same xlb version",
                 settings_.instance, data[4], wire_version);
  }
}

bool FlowSync::fresh(const SyncHeader& header) {
  const std::uint64_t now_ms = clock_ns(CLOCK_REALTIME) / 1'000'000;
  switch (freshness_.check(header.sent_ms, now_ms)) {
    case Freshness::Verdict::fresh:
      return true;
    case Freshness::Verdict::before_start:
      ++counters_.rejected_replay;
      return false;
    case Freshness::Verdict::stale:
      break;
  }
  ++counters_.rejected_stale;
  // Clocks apart stop sync for good, so it must be visible; a replay flood must not flood
  // the log, hence at most one line a minute.
  const auto now = std::chrono::steady_clock::now();
  if (now - last_clock_warning_ >= std::chrono::minutes(1)) {
    last_clock_warning_ = now;
    const double apart = (static_cast<double>(header.sent_ms) - static_cast<double>(now_ms)) / 1000.0;
    spdlog::warn("flow sync {}: refused a datagram sealed {:+.1f} s from this node's clock (sync_max_clock_skew "
                 "{} s): a replay, or the nodes' clocks are apart",
                 settings_.instance, apart, settings_.max_clock_skew.count() / 1000);
  }
  return false;
}

nlohmann::json FlowSync::describe() const {
  const auto& c = counters_;
  return {{"interface", settings_.interface},
          {"instance", settings_.instance},
          {"sync_id", settings_.sync_id},
          {"key", settings_.key_source},
          {"role", settings_.all_peers ? "peer" : master_ ? "master" : "backup"},
          {"synced", synced_},
          {"join", settings_.all_peers ? join_end_ : "none"},
          {"join_wait", settings_.join_wait.count() / 1000.0},
          {"bulk_sends", c.bulk_sends},
          {"joins_answered", c.joins_answered},
          {"scans", c.scans},
          {"packets_sent", c.packets_sent},
          {"entries_sent", c.entries_sent},
          {"bytes_sent", c.bytes_sent},
          {"send_errors", c.send_errors},
          {"max_datagrams_per_second", settings_.max_datagrams_per_second},
          {"slices", c.slices},
          {"backlog", backlog_.size()},
          {"entries_deferred", c.entries_deferred},
          {"entries_dropped", c.entries_dropped},
          {"refreshes_postponed", c.refreshes_postponed},
          {"packets_received", c.packets_received},
          {"entries_installed", c.entries_installed},
          {"entries_unknown", c.entries_unknown},
          {"rejected_auth", c.rejected_auth},
          {"rejected_malformed", c.rejected_malformed},
          {"rejected_replay", c.rejected_replay},
          {"rejected_stale", c.rejected_stale},
          {"max_clock_skew", settings_.max_clock_skew.count() / 1000.0},
          {"rejected_sync_id", c.rejected_sync_id}};
}

}  // namespace xlb::sync
