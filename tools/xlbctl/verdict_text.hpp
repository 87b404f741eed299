// A capture record in words: the packet ("198.18.0.10:40000 -> 198.18.7.100:80 TCP SYN") and
// what the program did with it and why ("new flow, wrr picked 198.18.7.21 (weight 2),
// connection entry written, DR to 02:4e:00:00:00:15 via eth0"). The same text is a pcapng
// comment for `xlbctl capture` and a line of `xlbctl trace`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "xlb/xlb_abi.h"

namespace xlb::ctl {

// What ids in records stand for: VIPs and reals from the pinned maps, weights from xlbd's
// `list` when it answered (else the real's share of the VIP's ring). Reads the maps again when
// a record names an id it does not know.
class DataplaneNames {
 public:
  // services: xlbd's `list` result ("services" array), or null.
  DataplaneNames(std::filesystem::path pin_dir, nlohmann::json services);

  struct Vip {
    std::string address;  // "198.18.7.100:80", "[2001:db8::10]:443"
    std::string scheduler;
  };
  struct Real {
    std::string address;
    std::string mac;
    std::optional<unsigned> weight;  // for the VIP it was looked up with
    std::string weight_kind;          // "weight" (xlbd's) or "ring share"
  };
  std::optional<Vip> vip(std::uint32_t vip_id);
  std::optional<Real> real(std::uint32_t vip_id, std::uint32_t real_id);

 private:
  void reload();
  std::filesystem::path pin_dir_;
  nlohmann::json services_;
  std::map<std::uint32_t, std::tuple<xlb_vip_key, xlb_vip_info>> vips_;
  std::map<std::uint32_t, xlb_real> reals_;
  std::map<std::pair<std::uint32_t, std::uint32_t>, unsigned> shares_;  // (vip id, real id) -> ring positions
  std::uint64_t loaded_ns_ = 0;
};

// "198.18.0.10:40000 -> 198.18.7.100:80 TCP SYN" (what can be read of the frame).
std::string packet_summary(std::span<const std::uint8_t> frame);

// The verdict and its reasons, without the packet (the frame gives the MAC it was sent to);
// names may be null (ids are printed then).
std::string verdict_text(const xlb_capture_record& record, std::span<const std::uint8_t> frame,
                         DataplaneNames* names);

// The packet as the client sent it: for a tunnel forward (XLB_CAPTURE_F_TUNNEL), recorded with
// its outer headers, the packet inside behind an Ethernet header without MACs; otherwise the
// frame itself.
std::vector<std::uint8_t> client_frame(const xlb_capture_record& record, std::span<const std::uint8_t> frame);

// packet_summary (of the client's packet) + ": " + verdict_text: a trace line and a pcapng comment.
std::string describe(const xlb_capture_record& record, std::span<const std::uint8_t> frame, DataplaneNames* names);

// An interface's name ("eth0"), or "ifindex N" when this namespace has none by that index.
std::string interface_name(std::uint32_t ifindex);

}  // namespace xlb::ctl
