// The read-only JSON API (/api/v1/...) and the status page (/) of the metrics listener. Both are
// views over the model xlbd already serialises for `xlbctl status`, `xlbctl list` and
// `xlbctl dump` (Daemon::status, services, dump), read through callbacks; the services part is
// read once per version of the state and its text shared by the requests until the next change
// (services_document.hpp). The only state kept here is the bounded event ring (event_log.hpp)
// and rate ring (rate_history.hpp) that the model has no place for. Schema: docs/api.md.
// Writing stays on the root-only control socket: every route here is a GET that changes nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrl/api/event_log.hpp"
#include "ctrl/api/http_reply.hpp"
#include "ctrl/api/rate_history.hpp"
#include "ctrl/api/services_document.hpp"
#include "xlb/asio.hpp"

namespace xlb::api {

class StatusApi {
 public:
  static constexpr int kVersion = 1;

  // The model, as the control socket serves it.
  struct Model {
    std::function<nlohmann::json()> status;    // xlbctl status --json
    std::function<std::vector<ServiceRow>()> services;  // xlbctl list --json (its "services" array)
    std::function<nlohmann::json()> dump;      // xlbctl dump --json
    // For the rate sampler: every real's counters, read from the dataplane without building
    // the services model; empty: readings_of(services()).
    std::function<std::vector<RateHistory::Reading>()> readings;
    // Changes whenever services() would answer differently (health, weights, overrides,
    // ownership; counters and flow counts: when they are to be read again); a new event also
    // reads it again. Empty: services() is read per request.
    std::function<std::uint64_t()> generation;
  };
  struct Options {
    bool page = true;                 // global_defs status_page
    std::size_t default_limit = 100;  // services per page of /api/v1/services and /state
    std::size_t max_limit = 1000;
    std::size_t state_events = 50;    // events in /api/v1/state
    std::string node{};               // the node's name, shown by the page (read once at start)
  };

  StatusApi(boost::asio::any_io_executor executor, Model model, const EventLog& events, RateHistory& rates,
            Options options);
  StatusApi(const StatusApi&) = delete;
  StatusApi& operator=(const StatusApi&) = delete;

  // Starts the rate sampler: one services() reading every RateHistory interval.
  void start();
  void stop();
  // One reading now (the sampler's step; public for tests).
  void sample_rates();

  // Answers a GET for `target` (path and query); nullopt-like 404 replies for unknown paths.
  HttpReply get(std::string_view target) const;

 private:
  boost::asio::awaitable<void> sample_loop();
  HttpReply state(const std::map<std::string, std::string>& query) const;
  HttpReply services(const std::map<std::string, std::string>& query) const;
  ServicesDocument::Page page_of(const std::map<std::string, std::string>& query, bool history) const;
  // The services' text, read again if the state changed since it was built.
  const ServicesDocument& document() const;

  boost::asio::steady_timer timer_;
  Model model_;
  const EventLog& events_;
  RateHistory& rates_;
  Options options_;
  mutable ServicesDocument document_;
  bool running_ = false;
};

// "a=1&b=2" -> {a: 1, b: 2}; percent escapes are not needed by any parameter and are kept as is.
std::map<std::string, std::string> parse_query(std::string_view query);

}  // namespace xlb::api
