// Loopback helpers for the FlowSync tests: flow tables as plain vectors behind the hooks (what
// is under test is selection, pacing, batching, sealing and acceptance), real UDP sockets, and
// a relay hop that timestamps each datagram and can lose chosen ones.
#pragma once

#include <sys/socket.h>
#include <time.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ctrl/dataplane/map_values.hpp"
#include "ctrl/sync/flow_sync.hpp"

namespace xlb::sync::test {

namespace asio = boost::asio;
using asio::ip::make_address;
using asio::ip::udp;
using dataplane::SyncedFlow;

using dataplane::monotonic_ns;

// What a sender stamps into sent_ms.
inline std::uint64_t realtime_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1'000'000;
}

inline std::uint16_t free_port() {
  asio::io_context io;
  udp::socket s(io, udp::endpoint(udp::v4(), 0));
  return s.local_endpoint().port();
}

// The index-th flow: distinct (client, client port) for up to 2^32 flows, real by parity.
inline SyncedFlow flow(std::uint32_t index, std::uint64_t created) {
  SyncedFlow f;
  f.service.address = make_address("198.18.0.100");
  f.service.port = 80;
  f.vip = f.service.address;
  f.vip_port = 80;
  f.client = asio::ip::address_v4(asio::ip::address_v4::bytes_type{198, 19, static_cast<unsigned char>(index >> 24),
                                                                    static_cast<unsigned char>(index >> 16)});
  f.client_port = static_cast<std::uint16_t>(index);
  f.real = make_address(index % 2 ? "198.18.0.21" : "198.18.0.22");
  f.real_port = 80;
  f.created_ns = created;
  f.last_seen_ns = created;
  return f;
}

// (client, client port) as one number, for sets of flows.
inline std::uint64_t id_of(const SyncedFlow& f) {
  return (std::uint64_t{f.client.to_v4().to_uint()} << 16) | f.client_port;
}
inline std::uint64_t id_of(const SyncEntry& e) { return id_of(from_entry(e)); }

inline FlowSyncSettings node_settings(std::uint16_t port, std::uint16_t peer_port, const std::string& secret,
                                      std::chrono::milliseconds interval) {
  FlowSyncSettings s;
  s.interface = "lo";
  s.instance = "VI_1";
  s.sync_id = 3;
  s.key = derive_key(secret);
  s.peers = {make_address("127.0.0.1")};
  s.port = port;
  s.peer_port = peer_port;
  s.scan_interval = interval;
  s.refresh_scans = 4;
  return s;
}

struct Node {
  Node(asio::io_context& io, FlowSyncSettings settings) : sync(io.get_executor(), std::move(settings), hooks()) {}
  Node(asio::io_context& io, std::uint16_t port, std::uint16_t peer_port, const std::string& secret,
       std::chrono::milliseconds interval = std::chrono::milliseconds(20))
      : Node(io, node_settings(port, peer_port, secret, interval)) {}
  FlowSyncHooks hooks() {
    FlowSyncHooks h;
    h.collect = [this](std::uint64_t since) {
      std::vector<SyncedFlow> out;
      for (const auto& f : table)
        if (f.last_seen_ns >= since) out.push_back(f);
      return out;
    };
    h.install = [this](const SyncedFlow& f) {
      if (f.real == make_address("198.18.0.99")) return false;  // "not configured here"
      installed.push_back(f);
      return true;
    };
    h.synced = [this] { ++synced_calls; };
    return h;
  }
  std::set<std::uint64_t> installed_ids() const {
    std::set<std::uint64_t> out;
    for (const auto& f : installed) out.insert(id_of(f));
    return out;
  }
  std::vector<SyncedFlow> table;
  std::vector<SyncedFlow> installed;
  int synced_calls = 0;
  FlowSync sync;
};

// Master -> relay -> backup. Forwards every datagram in order, except the ones whose
// 0-based index is in `lose`, which it keeps for the test to read. With `capture`, it also
// keeps a copy of what it forwards (an eavesdropper on the sync link).
//
// The relay shares the test's one thread with the master and the backup, so on a loaded machine
// it reads late: `arrivals` are therefore the kernel's receive times (SO_TIMESTAMPNS), which
// pacing is judged by, and its buffer holds a whole test's datagrams (SO_RCVBUFFORCE, as root)
// so that reading late loses nothing. With an 8 MB buffer it overflowed (UDP RcvbufErrors)
// at about 4,440 datagrams of 5,000 under load.
class Relay {
 public:
  Relay(asio::io_context& io, std::uint16_t to_port)
      : socket_(io, udp::endpoint(make_address("127.0.0.1"), 0)), to_(make_address("127.0.0.1"), to_port) {
    const int fd = socket_.native_handle();
    const int bytes = 64 << 20, on = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) != 0)
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
    ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
    asio::co_spawn(io, run(), [](std::exception_ptr) {});  // ends with operation_aborted at destruction
  }
  std::uint16_t port() const { return socket_.local_endpoint().port(); }

  std::set<std::size_t> lose;
  std::vector<std::chrono::nanoseconds> arrivals;  // CLOCK_REALTIME, as the kernel stamped them
  std::vector<std::vector<std::uint8_t>> lost;
  bool capture = false;
  std::vector<std::vector<std::uint8_t>> captured;

 private:
  asio::awaitable<void> run() {
    std::vector<std::uint8_t> buffer(2048);
    for (;;) {
      co_await socket_.async_wait(udp::socket::wait_read, asio::use_awaitable);
      while (auto n = receive(buffer)) forward(buffer, *n);
    }
  }
  // One queued datagram, stamped; nullopt when none is left.
  std::optional<std::size_t> receive(std::vector<std::uint8_t>& buffer) {
    iovec iov{buffer.data(), buffer.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = ::recvmsg(socket_.native_handle(), &msg, MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    timespec stamp{};
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) std::memcpy(&stamp, CMSG_DATA(c), sizeof(stamp));
    arrivals.push_back(std::chrono::seconds(stamp.tv_sec) + std::chrono::nanoseconds(stamp.tv_nsec));
    return static_cast<std::size_t>(n);
  }
  void forward(const std::vector<std::uint8_t>& buffer, std::size_t n) {
    const auto end = buffer.begin() + static_cast<std::ptrdiff_t>(n);
    if (lose.count(arrivals.size() - 1)) {
      lost.emplace_back(buffer.begin(), end);
      return;
    }
    if (capture) captured.emplace_back(buffer.begin(), end);
    socket_.send_to(asio::buffer(buffer.data(), n), to_);
  }
  udp::socket socket_;
  udp::endpoint to_;
};

// Runs io until done() or the (generous) deadline; returns done().
inline bool run_until(asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::seconds deadline = std::chrono::seconds(30)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!done() && std::chrono::steady_clock::now() < until) io.run_for(std::chrono::milliseconds(5));
  return done();
}

}  // namespace xlb::sync::test
