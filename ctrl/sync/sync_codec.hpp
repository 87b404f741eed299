// The flow-sync wire format: batches of node-independent flow and persistence entries (VIP
// address/port/protocol, client, real address/port; never a node's map ids), each datagram
// sealed with HMAC-SHA256. Layout (all integers big-endian):
//   header 40 bytes: "XLBS" | version u8 | flags u8 | count u16 | sync_id u32 |
//                    sender u32 | epoch u64 | sequence u64 | sent_ms u64
// Version 2 added sent_ms (version 1 had a 32-byte header without it): the receiver's replay
// rules need a time it can check without remembering anything (see freshness.hpp). The two
// versions do not talk to each other: a datagram of the other version counts as malformed.
// The flags byte (0 before flow_sync_peers; a receiver that knows no flag ignores it) carries
// the bulk sync of a joining peer (SyncFlag).
//   count entries of 64 bytes (see SyncEntry) | HMAC-SHA256(key, header + entries) 32 bytes
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include "xlb/asio.hpp"

namespace xlb::sync {

using IpAddress = boost::asio::ip::address;

enum class EntryKind : std::uint8_t { flow = 1, persist = 2 };

struct SyncEntry {
  EntryKind kind = EntryKind::flow;
  std::uint8_t protocol = 6;       // IPPROTO_TCP / IPPROTO_UDP
  IpAddress vip;                   // the flow's destination (the VIP)
  std::uint16_t vip_port = 0;      // the flow's destination port (persist: 0)
  std::uint16_t service_port = 0;  // the virtual server's port (0: all-ports service)
  IpAddress client;                // persist: the masked client address
  std::uint16_t client_port = 0;   // persist: 0
  IpAddress real;
  std::uint16_t real_port = 0;
  bool operator==(const SyncEntry&) const = default;
};

// flow_sync_peers only (issue 29): a peer that starts with empty tables asks the others for
// theirs (join, in datagrams without entries, until one answers), and a peer that sent its
// whole table because of a join says so when the last of it has left (bulk_done). A peer
// still joining itself adds `joining` to its bulk_done: its table may lack what the others
// hold, so it ends a join only when every peer answered so (nobody has more to give).
enum SyncFlag : std::uint8_t { sync_flag_join = 1, sync_flag_bulk_done = 2, sync_flag_joining = 4 };

struct SyncHeader {
  std::uint32_t sync_id = 0;  // keepalived's lvs_sync_daemon "id N": peers with another id ignore us
  std::uint32_t sender = 0;   // random per sender process: the replay window is kept per sender
  std::uint64_t epoch = 0;    // sender start (realtime ns): a restarted sender starts a new window
  std::uint64_t sequence = 0;
  std::uint64_t sent_ms = 0;  // sender's CLOCK_REALTIME when sealed, ms since the Unix epoch
  std::uint8_t flags = 0;     // SyncFlag bits
};

struct SyncPacket {
  SyncHeader header;
  std::vector<SyncEntry> entries;
};

using SyncKey = std::array<std::uint8_t, 32>;

inline constexpr std::size_t header_size = 40;
inline constexpr std::uint8_t wire_version = 2;
inline constexpr std::size_t entry_size = 64;
inline constexpr std::size_t mac_size = 32;
// 20 entries: 1352-byte datagrams, below a 1500-byte MTU with IPv4 or IPv6 headers.
inline constexpr std::size_t max_entries_per_packet = 20;

enum class DecodeError { too_short = 1, bad_magic, bad_version, bad_length, bad_mac, bad_entry };
const std::error_category& decode_category();
inline std::error_code make_error_code(DecodeError e) { return {static_cast<int>(e), decode_category()}; }

// The HMAC key: HMAC-SHA256 keyed with a fixed label over the shared secret (a key file's
// bytes, or the VRRP instance's auth_pass), so the raw secret never keys two protocols.
SyncKey derive_key(std::string_view secret);

std::vector<std::uint8_t> encode(const SyncPacket& packet, const SyncKey& key);
// Checks length, magic, version and MAC before reading any entry.
std::optional<SyncPacket> decode(std::span<const std::uint8_t> data, const SyncKey& key, std::error_code& ec);

}  // namespace xlb::sync

template <>
struct std::is_error_code_enum<xlb::sync::DecodeError> : std::true_type {};
