#include "ctrl/api/status_api.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "ctrl/api/status_assets.hpp"
#include "ctrl/api/stop_logger.hpp"

namespace xlb::api {

namespace asio = boost::asio;
using Json = nlohmann::json;

namespace {

HttpReply json_reply(unsigned status, const Json& body) { return HttpReply{status, "application/json", json_text(body) + "\n"}; }

HttpReply error(unsigned status, const std::string& message) { return json_reply(status, Json{{"error", message}}); }

// A bad parameter is the client's mistake: 400 with the reason, never a guess.
std::size_t number_param(const std::map<std::string, std::string>& query, const std::string& name,
                         std::size_t fallback, std::size_t max) {
  const auto it = query.find(name);
  if (it == query.end()) return fallback;
  std::size_t value = 0;
  const auto& text = it->second;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    throw std::invalid_argument("'" + name + "' must be a whole number, got '" + text + "'");
  if (value > max) throw std::invalid_argument("'" + name + "' must be at most " + std::to_string(max));
  return value;
}

}  // namespace

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (!pair.empty()) out[std::string(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

StatusApi::StatusApi(asio::any_io_executor executor, Model model, const EventLog& events, RateHistory& rates,
                     Options options)
    : timer_(executor), model_(std::move(model)), events_(events), rates_(rates), options_(options) {}

void StatusApi::start() {
  if (running_) return;
  running_ = true;
  asio::co_spawn(timer_.get_executor(), sample_loop(), log_unexpected_stop("status page rate sampler"));
}

void StatusApi::stop() {
  running_ = false;
  timer_.cancel();
}

void StatusApi::sample_rates() { rates_.sample(model_.readings ? model_.readings() : readings_of(model_.services())); }

asio::awaitable<void> StatusApi::sample_loop() {
  while (running_) {
    sample_rates();
    timer_.expires_after(rates_.options().interval);
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;  // cancelled: stop() or the StatusApi is gone
  }
}

const ServicesDocument& StatusApi::document() const {
  std::optional<ServicesDocument::Version> version;
  if (model_.generation) version = ServicesDocument::Version{model_.generation(), events_.last_seq()};
  document_.refresh(version, model_.services);
  return document_;
}

ServicesDocument::Page StatusApi::page_of(const std::map<std::string, std::string>& query, bool history) const {
  ServicesDocument::Page page;
  page.offset = number_param(query, "offset", 0, SIZE_MAX);
  page.limit = number_param(query, "limit", options_.default_limit, options_.max_limit);
  page.history = number_param(query, "history", history ? 1 : 0, 1) == 1;
  page.since = number_param(query, "since", 0, SIZE_MAX);
  return page;
}

HttpReply StatusApi::state(const std::map<std::string, std::string>& query) const {
  const auto page = page_of(query, true);
  const auto events = number_param(query, "events", options_.state_events, events_.capacity());
  // Everything but the services is small and read per request: the status carries the
  // listeners' own counters, and the events are what an operator waits for.
  std::string body = open_object(json_text(Json{{"api_version", kVersion},
                                                {"generated_at", iso_utc(std::chrono::system_clock::now())},
                                                {"node", options_.node},
                                                {"status", model_.status()},
                                                {"events", events_.newest_first(events)},
                                                {"rates", {{"interval_ms", rates_.options().interval.count()},
                                                           {"points", rates_.options().points},
                                                           {"seq", rates_.sequence()}}}}));
  body += "\"services\":";
  document().write_page(body, page, rates_);
  body += "}\n";
  return HttpReply{200, "application/json", std::move(body)};
}

HttpReply StatusApi::services(const std::map<std::string, std::string>& query) const {
  const auto page = page_of(query, false);
  std::string body;
  document().write_page(body, page, rates_);
  body += "\n";
  return HttpReply{200, "application/json", std::move(body)};
}

HttpReply StatusApi::get(std::string_view target) const {
  const auto question = target.find('?');
  const std::string path(target.substr(0, question));
  const auto query = parse_query(question == std::string_view::npos ? std::string_view() : target.substr(question + 1));
  try {
    if (path == "/api/v1" || path == "/api/v1/") {
      return json_reply(200, Json{{"api_version", kVersion},
                                  {"endpoints", {"/api/v1/state", "/api/v1/status", "/api/v1/services",
                                                 "/api/v1/events", "/api/v1/dump"}},
                                  {"schema", "docs/api.md"}});
    }
    if (path == "/api/v1/state") return state(query);
    if (path == "/api/v1/status") return json_reply(200, model_.status());
    if (path == "/api/v1/services") return services(query);
    if (path == "/api/v1/events") {
      const auto limit = number_param(query, "limit", events_.capacity(), events_.capacity());
      const auto after = number_param(query, "after", 0, SIZE_MAX);
      return json_reply(200, Json{{"capacity", events_.capacity()}, {"events", events_.newest_first(limit, after)}});
    }
    if (path == "/api/v1/dump") return json_reply(200, model_.dump());
    if (path.rfind("/api/", 0) == 0) return error(404, "no such endpoint; see /api/v1");
  } catch (const std::invalid_argument& e) {
    return error(400, e.what());
  } catch (const std::exception& e) {
    spdlog::warn("status API: {}: {}", path, e.what());
    return error(500, e.what());
  }
  if (options_.page) {
    const auto assets = status_page_assets();
    const auto asset = std::find_if(assets.begin(), assets.end(), [&](const StaticAsset& a) {
      return a.path == path || (path == "/index.html" && a.path == "/");
    });
    if (asset != assets.end()) return HttpReply{200, std::string(asset->content_type), std::string(asset->body)};
  }
  return HttpReply{404, "text/plain; charset=utf-8",
                   options_.page ? "see / (status page), /api/v1 or /metrics\n"
                                 : "see /api/v1 or /metrics (status_page is off)\n"};
}

}  // namespace xlb::api
