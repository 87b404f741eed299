// keepalived's lvs_sync_daemon for the XDP dataplane. While this node is master of the
// named VRRP instance it scans the flow and persistence tables every scan_interval and sends
// what is new (created since the last scan) plus a rotating share of the still-active entries
// (each one once per refresh_scans scans, so a backup's copy never idles out and a lost
// datagram is repaired at the next refresh), batched and sealed, over UDP on the given
// interface. While backup it installs what the master sends, translated to its own ids.
//
// Sending is paced: a send budget in datagrams per second (a token bucket refilled in slices of
// pace_interval) bounds what the sync puts on the link and into a backup's socket buffer, so a
// new master's whole table (1M flows: 50,000 datagrams) leaves over a few seconds instead of
// in one burst that the backup would mostly drop. What does not fit a slice waits in a
// bounded backlog, new flows ahead of refreshes; it is counted, never dropped silently.
//
// Why a scan rather than a BPF ring buffer of new flows: the scan finds both new and refreshed
// entries with one mechanism, costs the forwarding path nothing at all, and its cost (one
// batched map read per interval) is measured in bench/sync. The price is up to one
// scan_interval of flows that a failover in that window loses.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrl/dataplane/xdp_backend.hpp"
#include "ctrl/sync/freshness.hpp"
#include "ctrl/sync/replay_window.hpp"
#include "ctrl/sync/sync_backlog.hpp"
#include "ctrl/sync/sync_codec.hpp"
#include "ctrl/sync/token_bucket.hpp"
#include "xlb/asio.hpp"

namespace xlb::sync {

// 20,000 datagrams/s: 400,000 entries/s, about 28 MB/s on the wire; a 1M-flow takeover
// leaves in 2.7 s (bench/sync). A backup verifies and decodes a datagram in about 4 us, so
// that rate costs it under a tenth of a core before its map writes.
inline constexpr std::uint32_t default_sync_rate = 20'000;

struct FlowSyncSettings {
  std::string interface;            // the datagrams leave and arrive only here
  std::string instance;             // VRRP instance whose master sends
  std::uint32_t sync_id = 0;        // "id N": a backup ignores other ids
  SyncKey key{};                    // derive_key(secret)
  std::string key_source;           // where the secret came from, for status: a file, or auth_pass
  std::vector<IpAddress> peers;     // unicast peers; empty: the multicast group
  IpAddress group = boost::asio::ip::make_address("224.0.0.81");
  std::uint16_t port = 8848;        // IPVS's sync port: bound here, and sent to
  std::uint16_t peer_port = 0;      // 0: port (tests on one host need two)
  std::chrono::milliseconds scan_interval{1000};
  std::uint32_t refresh_scans = 10;
  // The send budget, counted per datagram sent (one per unicast peer). The bucket holds one
  // slice: at most max(peers, rate * pace_interval) datagrams leave at once.
  std::uint32_t max_datagrams_per_second = default_sync_rate;
  std::chrono::milliseconds pace_interval{10};
  // Entries waiting for the budget; past this, refreshes are dropped first (and counted).
  std::size_t max_backlog = std::size_t{1} << 21;
  // How far a datagram's sent_ms may be from this node's clock (sync_max_clock_skew); see
  // freshness.hpp for why a replay after a restart needs it.
  std::chrono::milliseconds max_clock_skew{30'000};
  // flow_sync_peers (issue 29): every node sends the flows it makes and installs its peers';
  // no VRRP instance decides, set_master() is not used. A node starts unsynced: it asks its
  // peers for their tables (join) and counts as synced once one synced peer's whole table has
  // arrived (bulk_done), once every peer answered while joining too (all started together:
  // nobody has flows to give), or when join_wait (flow_sync_join_wait) has passed.
  bool all_peers = false;
  std::chrono::milliseconds join_wait{5000};
};

struct FlowSyncHooks {
  // Entries used at or after since_ns (CLOCK_MONOTONIC), node-independent.
  std::function<std::vector<dataplane::SyncedFlow>(std::uint64_t since_ns)> collect;
  // false: service or real not known here.
  std::function<bool(const dataplane::SyncedFlow&)> install;
  // all_peers: called once, when this node's join has ended (synced() turned true).
  std::function<void()> synced;
};

struct FlowSyncCounters {
  std::uint64_t scans = 0;
  std::uint64_t packets_sent = 0;
  std::uint64_t entries_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t send_errors = 0;
  std::uint64_t slices = 0;             // pacing slices that sent at least one datagram
  std::uint64_t entries_deferred = 0;   // sent in a later slice than their scan's (budget short)
  std::uint64_t entries_dropped = 0;    // backlog full, or mastership lost with entries queued
  std::uint64_t refreshes_postponed = 0;  // scans whose refresh share waited for the backlog
  std::uint64_t packets_received = 0;
  std::uint64_t entries_installed = 0;
  std::uint64_t entries_unknown = 0;   // service/real not configured here, or map write failed
  std::uint64_t rejected_auth = 0;       // the HMAC does not match: another key, or forged
  std::uint64_t rejected_malformed = 0;  // not a sync datagram: length, magic, version, entries
  std::uint64_t rejected_replay = 0;     // seen already, an older epoch, or sealed before this node started
  std::uint64_t rejected_stale = 0;      // sent_ms further than max_clock_skew: a replay, or clocks apart
  std::uint64_t rejected_sync_id = 0;
  std::uint64_t bulk_sends = 0;      // all_peers: whole tables sent because a peer joined
  std::uint64_t joins_answered = 0;  // all_peers: peers (sender, start) whose join we answered
};

SyncEntry to_entry(const dataplane::SyncedFlow& flow);
dataplane::SyncedFlow from_entry(const SyncEntry& entry);

class FlowSync {
 public:
  // Throws when the socket cannot be opened on the interface.
  FlowSync(boost::asio::any_io_executor executor, FlowSyncSettings settings, FlowSyncHooks hooks);
  ~FlowSync();
  FlowSync(const FlowSync&) = delete;
  FlowSync& operator=(const FlowSync&) = delete;

  void start();
  void stop();
  // From the daemon's VRRP observer: only the master sends; only a backup installs.
  void set_master(bool master);
  bool master() const { return master_; }
  // Scans now as the timer does every scan_interval (tests and benchmarks): queues what is
  // new and the refresh share, and sends the first slice; later slices follow every
  // pace_interval while start()ed and master.
  void scan_now();
  // Entries queued behind the send budget.
  std::size_t backlog() const { return backlog_.size(); }
  // all_peers: false from start() until this node's join ended; always true otherwise.
  bool synced() const { return synced_; }

  const FlowSyncSettings& settings() const { return settings_; }
  const FlowSyncCounters& counters() const { return counters_; }
  nlohmann::json describe() const;

 private:
  void open_socket();
  boost::asio::awaitable<void> receive_loop();
  boost::asio::awaitable<void> scan_loop();
  void scan();
  // Sends from the backlog as far as the budget allows; `scan` names the scan whose own slice
  // this is (0: a later slice).
  void pump(std::uint64_t scan);
  void drop_backlog();
  void handle_datagram(std::span<const std::uint8_t> data);
  bool fresh(const SyncHeader& header);
  void count_decode_error(std::error_code ec, std::span<const std::uint8_t> data);
  void send_batch(std::vector<SyncEntry>& batch, std::uint8_t flags = 0);
  std::size_t destinations() const { return settings_.peers.empty() ? 1 : settings_.peers.size(); }
  // A datagram without entries that only carries flags (join, bulk_done).
  void send_flags(std::uint8_t flags);
  void end_join(const char* how, const char* why);

  boost::asio::any_io_executor executor_;
  FlowSyncSettings settings_;
  FlowSyncHooks hooks_;
  boost::asio::ip::udp::socket socket_;
  boost::asio::steady_timer timer_;
  Freshness freshness_;
  ReplayWindow replay_;
  FlowSyncCounters counters_;
  std::uint32_t sender_;
  std::uint64_t epoch_;
  std::uint64_t sequence_ = 0;
  std::uint64_t last_scan_ns_ = 0;  // 0: send everything (first scan as master)
  std::uint64_t scan_number_ = 0;   // scans so far (names the backlog's entries)
  std::uint64_t refresh_turn_ = 0;  // refresh shares taken so far
  TokenBucket bucket_;
  SyncBacklog backlog_;
  std::chrono::steady_clock::time_point next_scan_;
  std::chrono::steady_clock::time_point last_slice_;
  std::chrono::steady_clock::time_point last_clock_warning_{};
  std::uint8_t warned_version_ = 0;
  bool master_ = false;
  bool running_ = false;
  // all_peers: the join of this node, and the whole tables owed to peers that joined.
  bool synced_ = true;
  std::chrono::steady_clock::time_point join_deadline_{};
  std::map<std::uint32_t, std::uint64_t> joins_seen_;  // sender -> epoch of its last join answered
  std::set<std::uint32_t> joining_answers_;  // peers whose (empty) answer said they are joining too
  const char* join_end_ = "pending";          // how this node's join ended, for status
  bool bulk_owed_ = false;      // a peer joined: the next scan sends everything
  bool bulk_in_flight_ = false; // that table is in the backlog; bulk_done follows its last entry
};

}  // namespace xlb::sync
