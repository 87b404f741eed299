// The services model as `xlbctl list --json` shows it (one row per virtual service, one per real
// in it, as ipvsadm -Ln lists them), as plain structs: xlbd fills them, the control socket turns
// them into a JSON tree (to_json), and the status views write their JSON text straight from them
// (write_open) without building a tree: at 1,000 reals the tree's small objects were a fifth of
// a rebuild's time. Both spell the same members in the same order; a test checks they agree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace xlb::api {

struct TrafficFigures {
  std::uint64_t conns = 0;  // new flows scheduled
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

struct RealRow {
  std::string address{};
  std::uint16_t port = 0;
  std::string forward{};  // ipvsadm's words: "Route", "Tunnel", "Local", "Masq"
  std::uint32_t configured_weight = 0;
  std::uint32_t weight = 0;  // what the dataplane uses now
  std::string health{};        // "up", "down", "up,drained", "sorry,serving", ...
  std::uint64_t active_conns = 0;
  std::uint64_t inactive_conns = 0;
  TrafficFigures stats{};
};

struct ServiceRow {
  std::string protocol{};  // "TCP", "UDP"
  std::string address{};
  std::uint16_t port = 0;
  std::uint32_t fwmark = 0;
  std::string scheduler{};
  std::uint32_t persistence = 0;
  std::uint8_t persistence_prefix = 0;
  bool active = false;
  std::string backend{};
  TrafficFigures stats{};
  std::optional<std::string> sorry_server{};  // while it serves
  std::vector<RealRow> reals{};
};

nlohmann::json to_json(const TrafficFigures& figures);
nlohmann::json to_json(const RealRow& real);
nlohmann::json to_json(const ServiceRow& service);  // with its reals
nlohmann::json to_json(const std::vector<ServiceRow>& services);

// Appends the row's JSON object without its closing brace, a comma after the last member, so
// that the caller adds members: the service's without "reals", the real's complete. The
// members and their order are to_json's, whose dump this equals up to the closing brace.
void write_open(std::string& out, const ServiceRow& service);
void write_open(std::string& out, const RealRow& real);

// Appends `text` as a JSON string, escaped as json_text() escapes it.
void write_string(std::string& out, std::string_view text);
void write_number(std::string& out, std::uint64_t value);

}  // namespace xlb::api
