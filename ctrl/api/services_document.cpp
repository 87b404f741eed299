#include "ctrl/api/services_document.hpp"

#include <charconv>

namespace xlb::api {

using Json = nlohmann::json;

std::string json_text(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string open_object(std::string text) {
  if (text.size() < 2 || text.back() != '}') return "{";
  text.pop_back();
  if (text.size() > 1) text += ',';
  return text;
}

namespace {

void append_float(std::string& out, float value) {
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, end);
}

}  // namespace

bool ServicesDocument::refresh(std::optional<Version> version,
                               const std::function<std::vector<ServiceRow>()>& services) {
  if (version && version_ == version) return false;
  version_ = version;
  const auto rows = services();
  services_.clear();
  services_.reserve(rows.size());
  for (const auto& svc : rows) {
    Service out;
    write_open(out.open, svc);
    const auto label = service_label(svc.protocol, svc.address, svc.port, svc.fwmark);
    out.reals.reserve(svc.reals.size());
    for (const auto& real : svc.reals) {
      Real text{{}, real_series_key(label, real.address, real.port)};
      write_open(text.open, real);
      out.reals.push_back(std::move(text));
    }
    services_.push_back(std::move(out));
  }
  return true;
}

void ServicesDocument::write_page(std::string& out, const Page& page, const RateHistory& rates) const {
  const std::size_t total = services_.size();
  out += "{\"items\":[";
  for (std::size_t i = page.offset; i < total && i - page.offset < page.limit; ++i) {
    const auto& svc = services_[i];
    if (i != page.offset) out += ',';
    out += svc.open;
    out += "\"reals\":[";
    for (std::size_t r = 0; r < svc.reals.size(); ++r) {
      const auto& real = svc.reals[r];
      if (r != 0) out += ',';
      out += real.open;
      const auto rate = rates.latest(real.key);
      out += "\"rate\":{\"bytes_per_second\":";
      append_float(out, rate ? rate->bytes_per_second : 0.0f);
      out += ",\"packets_per_second\":";
      append_float(out, rate ? rate->packets_per_second : 0.0f);
      out += '}';
      if (page.history) {
        out += ",\"history\":";
        rates.write_series(out, real.key, page.since);
      }
      out += '}';
    }
    out += "]}";
  }
  out += "],\"limit\":" + std::to_string(page.limit) + ",\"offset\":" + std::to_string(page.offset) +
         ",\"total\":" + std::to_string(total) + "}";
}

}  // namespace xlb::api
