#include "ctrl/api/connection_table.hpp"


namespace xlb::api {

ConnectionTable::Slot::~Slot() {
  if (state_) state_->open.erase(id_);
}

void ConnectionTable::Slot::on_evict(std::function<void()> close) {
  const auto it = state_->open.find(id_);
  if (it != state_->open.end()) it->second.close = std::move(close);
}

bool ConnectionTable::Slot::waiting() {
  if (state_->closed) return false;
  const auto it = state_->open.find(id_);
  if (it != state_->open.end()) it->second.waiting_since = ++state_->turn;
  return true;
}

void ConnectionTable::Slot::busy() {
  const auto it = state_->open.find(id_);
  if (it != state_->open.end()) it->second.waiting_since = 0;
}

ConnectionTable::ConnectionTable(std::string name, ListenerLimits limits, DescriptorBudget budget)
    : name_(std::move(name)), state_(std::make_shared<State>(State{limits, budget, {}, {}, 1, 0})) {
  if (state_->limits.max_connections == 0) state_->limits.max_connections = 1;
}

ConnectionTable::~ConnectionTable() {
  state_->closed = true;
  for (auto& [id, entry] : state_->open) {
    if (entry.waiting_since != 0 && entry.close) entry.close();
  }
}

std::variant<ConnectionTable::Slot, ConnectionTable::Refusal> ConnectionTable::admit(int fd) {
  State& s = *state_;
  if (s.budget.short_of(fd)) {
    ++s.counters.rejected_descriptors;
    return Refusal::descriptors;
  }
  if (s.open.size() >= s.limits.max_connections) {
    auto victim = s.open.end();
    for (auto it = s.open.begin(); it != s.open.end(); ++it) {
      if (it->second.waiting_since == 0 || !it->second.close) continue;
      if (victim == s.open.end() || it->second.waiting_since < victim->second.waiting_since) victim = it;
    }
    if (victim == s.open.end()) {
      ++s.counters.rejected_cap;
      return Refusal::cap;
    }
    ++s.counters.evicted;
    auto close = std::move(victim->second.close);
    s.open.erase(victim);
    close();
  }
  const std::uint64_t id = s.next_id++;
  s.open.emplace(id, Entry{});
  ++s.counters.accepted;
  return Slot(state_, id);
}

nlohmann::json ConnectionTable::describe() const {
  const auto& c = state_->counters;
  const auto& l = state_->limits;
  return {{"connections", state_->open.size()},
          {"max_connections", l.max_connections},
          {"idle_timeout", std::chrono::duration<double>(l.idle_timeout).count()},
          {"request_timeout", std::chrono::duration<double>(l.request_timeout).count()},
          {"accepted", c.accepted},
          {"rejected", {{"cap", c.rejected_cap}, {"descriptors", c.rejected_descriptors}, {"accept_error", c.accept_errors}}},
          {"closed", {{"evicted", c.evicted}, {"idle_timeout", c.idle_timeouts}, {"request_timeout", c.request_timeouts}}}};
}

}  // namespace xlb::api
