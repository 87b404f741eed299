// The services model as the status views serve it, serialised once per version of the state
// and shared by every request until the state changes. Reading the model of 1,000 reals costs
// a few ms (the dataplane's counters, the census, the health snapshot); an open page asks for it
// every second, and most of those seconds nothing but its own poll happened. The text is written
// from the model's rows (service_rows.hpp), not from a JSON tree. The text is kept per
// real without its closing brace, so that a reply appends each real's rate (new at every rate
// reading, every 2 s) and chart points (which depend on the request's `since`) without
// serialising the real again.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrl/api/rate_history.hpp"
#include "ctrl/api/service_rows.hpp"

namespace xlb::api {

class ServicesDocument {
 public:
  // What the text was built from. `generation` is the model's own (in xlbd: its live state's
  // health, weights, overrides and ownership, and the flow census' count, which is when the
  // counters in the text are read again); `events` is the event log's last sequence number.
  struct Version {
    std::uint64_t generation = 0;
    std::uint64_t events = 0;
    bool operator==(const Version&) const = default;
  };
  struct Page {
    std::size_t offset = 0;
    std::size_t limit = 0;
    bool history = false;
    std::uint64_t since = 0;  // with history: only the points of readings after this one
  };

  // Reads `services` (the model's rows) again unless the text was built for `version`;
  // nullopt: always read (a model without a generation). Returns whether it read.
  bool refresh(std::optional<Version> version, const std::function<std::vector<ServiceRow>()>& services);
  std::size_t total() const { return services_.size(); }
  // Appends {"items": [...], "limit": L, "offset": O, "total": T}.
  void write_page(std::string& out, const Page& page, const RateHistory& rates) const;

 private:
  struct Real {
    std::string open;  // the real's JSON without its closing brace
    std::string key;   // its rate series
  };
  struct Service {
    std::string open;  // the service's JSON without "reals" and without its closing brace
    std::vector<Real> reals;
  };
  std::optional<Version> version_;
  std::vector<Service> services_;
};

// JSON text of `value`; bytes that are not UTF-8 (an interface name, a script's words) are replaced.
std::string json_text(const nlohmann::json& value);
// `text` (a JSON object's) without its closing brace, and a comma when it has members, so that
// members can be appended: {"a":1} -> {"a":1,   {} -> {
std::string open_object(std::string text);

}  // namespace xlb::api
