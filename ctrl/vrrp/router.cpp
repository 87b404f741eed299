#include "ctrl/vrrp/router.hpp"

#include <set>

#include <spdlog/spdlog.h>

#include "ctrl/vrrp/instance.hpp"

namespace xlb::vrrp {

Router::Router(boost::asio::any_io_executor ex, RouterSettings settings, ScriptRunner runner)
    : ex_(ex), settings_(std::move(settings)), runner_(std::move(runner)) {
  auto problems = check_settings(settings_);
  if (!problems.empty()) throw std::invalid_argument(problems.front());
}

Router::~Router() { stop(); }

std::shared_ptr<Instance> Router::make(const InstanceSettings& s) {
  return std::make_shared<Instance>(ex_, s, runner_,
                                    [this](Instance& i, const StateChange& c) { on_change(i, c); });
}

void Router::start() {
  if (started_) return;
  // Open everything first: a bad interface fails start-up before any instance acts.
  for (const auto& s : settings_.instances) instances_[s.name] = make(s);
  started_ = true;
  for (auto& [name, inst] : instances_) inst->start();
}

void Router::stop() {
  if (!started_) return;
  started_ = false;
  for (auto& [name, inst] : instances_) inst->stop();
  instances_.clear();
}

void Router::reconfigure(RouterSettings settings) {
  auto problems = check_settings(settings);
  if (!problems.empty()) throw std::invalid_argument(problems.front());
  // Open the new and changed instances first: if one cannot (missing interface), nothing has
  // been stopped yet and the running configuration stays as it was.
  std::map<std::string, std::shared_ptr<Instance>> next;
  std::vector<std::shared_ptr<Instance>> fresh;
  for (const auto& s : settings.instances) {
    auto it = instances_.find(s.name);
    if (it != instances_.end() && it->second->settings() == s)
      next[s.name] = it->second;
    else
      fresh.push_back(next[s.name] = make(s));
  }
  for (auto& [name, inst] : instances_)
    if (next[name] != inst) inst->stop();  // removed or changed
  std::erase_if(next, [](const auto& kv) { return !kv.second; });
  instances_ = std::move(next);
  settings_ = std::move(settings);
  if (started_)
    for (auto& i : fresh) i->start();
}

std::vector<InstanceStatus> Router::status() const {
  std::vector<InstanceStatus> out;
  for (const auto& [name, inst] : instances_) out.push_back(inst->status());
  return out;
}

const SyncGroupSettings* Router::group_of(const std::string& instance) const {
  for (const auto& g : settings_.sync_groups)
    for (const auto& m : g.instances)
      if (m == instance) return &g;
  return nullptr;
}

void Router::on_change(Instance& from, const StateChange& c) {
  if (observer_) observer_(c);
  // Start-up is not a group decision: a (re)started member must not pull the others along.
  if (c.split_brain || c.new_state == State::stop || c.old_state == State::init || propagating_)
    return;
  const SyncGroupSettings* g = group_of(c.instance);
  if (!g) return;
  // keepalived's sync-group rule: members move together. A member that leaves FAULT brings
  // the others back to BACKUP; they then elect again.
  State to = c.new_state;
  Reason why = Reason::sync_group;
  if (c.old_state == State::fault && to == State::backup) why = Reason::fault_cleared;
  ++propagating_;
  for (const auto& m : g->instances) {
    auto it = instances_.find(m);
    if (it == instances_.end() || it->second.get() == &from) continue;
    it->second->force(to, why);
  }
  --propagating_;
}

std::vector<std::string> check_settings(const RouterSettings& s) {
  std::vector<std::string> errs;
  std::set<std::string> names;
  std::set<std::pair<std::string, int>> vrids;
  for (const auto& i : s.instances) {
    std::string where = "vrrp_instance " + i.name + ": ";
    if (!names.insert(i.name).second) errs.push_back(where + "defined twice");
    if (i.interface.empty()) errs.push_back(where + "no interface");
    if (i.vrid < 1) errs.push_back(where + "virtual_router_id must be 1-255");
    if (i.priority < 1) errs.push_back(where + "priority must be 1-255");
    if (i.version != 2 && i.version != 3) errs.push_back(where + "version must be 2 or 3");
    if (i.version == 2 && i.advert_int.count() > 255000)
      errs.push_back(where + "VRRPv2 advert_int must be 1-255 s");
    if (i.version == 3 && (i.advert_int.count() < 10 || i.advert_int.count() > 40950))
      errs.push_back(where + "VRRPv3 advert_int must be 0.01-40.95 s");
    if (i.vips.empty()) errs.push_back(where + "no virtual_ipaddress");
    bool v6 = !i.vips.empty() && i.vips.front().address.is_v6();
    for (const auto& v : i.vips)
      if (v.address.is_v6() != v6)
        errs.push_back(where + "virtual_ipaddress mixes IPv4 and IPv6 (use excluded for the other)");
    if (i.version == 2 && v6) errs.push_back(where + "VRRPv2 has no IPv6");
    if (!i.auth_pass.empty() && i.version == 3)
      errs.push_back(where + "authentication is not part of VRRPv3");
    if (i.vrid >= 1 && !vrids.insert({i.interface + (v6 ? "/6" : "/4"), i.vrid}).second)
      errs.push_back(where + "virtual_router_id already used on " + i.interface);
  }
  for (const auto& g : s.sync_groups)
    for (const auto& m : g.instances)
      if (!names.count(m))
        errs.push_back("vrrp_sync_group " + g.name + ": unknown instance " + m);
  return errs;
}

}  // namespace xlb::vrrp
