#include "ctrl/api/service_rows.hpp"

#include <algorithm>
#include <charconv>

#include "ctrl/api/services_document.hpp"

namespace xlb::api {

using Json = nlohmann::json;

// Members in nlohmann's order (its objects sort their keys), so that to_json's dump and
// write_open's text are the same bytes.

Json to_json(const TrafficFigures& f) { return {{"conns", f.conns}, {"packets", f.packets}, {"bytes", f.bytes}}; }

Json to_json(const RealRow& r) {
  return Json{{"address", r.address},
              {"port", r.port},
              {"forward", r.forward},
              {"configured_weight", r.configured_weight},
              {"weight", r.weight},
              {"health", r.health},
              {"active_conns", r.active_conns},
              {"inactive_conns", r.inactive_conns},
              {"stats", to_json(r.stats)}};
}

Json to_json(const ServiceRow& s) {
  Json out{{"protocol", s.protocol},
           {"address", s.address},
           {"port", s.port},
           {"fwmark", s.fwmark},
           {"scheduler", s.scheduler},
           {"persistence", s.persistence},
           {"persistence_prefix", s.persistence_prefix},
           {"active", s.active},
           {"backend", s.backend},
           {"stats", to_json(s.stats)}};
  if (s.sorry_server) out["sorry_server"] = *s.sorry_server;
  Json reals = Json::array();
  for (const auto& r : s.reals) reals.push_back(to_json(r));
  out["reals"] = std::move(reals);
  return out;
}

Json to_json(const std::vector<ServiceRow>& services) {
  Json out = Json::array();
  for (const auto& s : services) out.push_back(to_json(s));
  return out;
}

void write_number(std::string& out, std::uint64_t value) {
  char buffer[24];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, end);
}

void write_string(std::string& out, std::string_view text) {
  // Addresses, names and states are printable ASCII without quotes or backslashes: copied as
  // they are. Anything else (an escape, UTF-8, a byte that is not) is nlohmann's to spell.
  const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
  });
  if (plain) {
    out += '"';
    out += text;
    out += '"';
  } else {
    out += json_text(Json(std::string(text)));
  }
}

namespace {

// `"name":` with a comma before it unless it opens the object.
void member(std::string& out, std::string_view name) {
  if (out.back() != '{') out += ',';
  out += '"';
  out += name;
  out += "\":";
}

void write_figures(std::string& out, const TrafficFigures& f) {
  out += "{\"bytes\":";
  write_number(out, f.bytes);
  out += ",\"conns\":";
  write_number(out, f.conns);
  out += ",\"packets\":";
  write_number(out, f.packets);
  out += '}';
}

}  // namespace

void write_open(std::string& out, const ServiceRow& s) {
  out += '{';
  member(out, "active");
  out += s.active ? "true" : "false";
  member(out, "address");
  write_string(out, s.address);
  member(out, "backend");
  write_string(out, s.backend);
  member(out, "fwmark");
  write_number(out, s.fwmark);
  member(out, "persistence");
  write_number(out, s.persistence);
  member(out, "persistence_prefix");
  write_number(out, s.persistence_prefix);
  member(out, "port");
  write_number(out, s.port);
  member(out, "protocol");
  write_string(out, s.protocol);
  member(out, "scheduler");
  write_string(out, s.scheduler);
  if (s.sorry_server) {
    member(out, "sorry_server");
    write_string(out, *s.sorry_server);
  }
  member(out, "stats");
  write_figures(out, s.stats);
  out += ',';
}

void write_open(std::string& out, const RealRow& r) {
  out += '{';
  member(out, "active_conns");
  write_number(out, r.active_conns);
  member(out, "address");
  write_string(out, r.address);
  member(out, "configured_weight");
  write_number(out, r.configured_weight);
  member(out, "forward");
  write_string(out, r.forward);
  member(out, "health");
  write_string(out, r.health);
  member(out, "inactive_conns");
  write_number(out, r.inactive_conns);
  member(out, "port");
  write_number(out, r.port);
  member(out, "stats");
  write_figures(out, r.stats);
  member(out, "weight");
  write_number(out, r.weight);
  out += ',';
}

}  // namespace xlb::api
