#include "ctrl/config/parsers.hpp"

namespace xlb::config {
namespace {

constexpr auto S = Support::supported;
constexpr auto R = Support::refused;

template <class T>
T& named(std::vector<T>& list, const Node& n) {
  T& item = list.emplace_back();
  item.name = Located<std::string>{n.args[0].text};
  item.name.loc = n.args[0].loc;
  item.name.set = true;
  return item;
}

constexpr Keyword<Config> top_keywords[] = {
    {"global_defs", S, true, 0, 0, [](ParseContext& c, const Node& n, Config& cfg) { parse_global_defs(c, n, cfg.global_defs); }},
    {"vrrp_script", S, true, 1, 1, [](ParseContext& c, const Node& n, Config& cfg) { parse_vrrp_script(c, n, named(cfg.vrrp_scripts, n)); }},
    {"vrrp_sync_group", S, true, 1, 1, [](ParseContext& c, const Node& n, Config& cfg) { parse_vrrp_sync_group(c, n, named(cfg.vrrp_sync_groups, n)); }},
    {"vrrp_instance", S, true, 1, 1, [](ParseContext& c, const Node& n, Config& cfg) { parse_vrrp_instance(c, n, named(cfg.vrrp_instances, n)); }},
    {"virtual_server_group", S, true, 1, 1,
     [](ParseContext& c, const Node& n, Config& cfg) { parse_virtual_server_group(c, n, named(cfg.virtual_server_groups, n)); }},
    {"virtual_server", S, true, 2, 2,
     [](ParseContext& c, const Node& n, Config& cfg) { parse_virtual_server(c, n, cfg.virtual_servers.emplace_back()); }},
    {"static_ipaddress", R, true, 0, 0, nullptr, "", false, "xlb does not manage static addresses; configure them outside xlb"},
    {"static_routes", R, true, 0, 0, nullptr, "", false, "xlb does not manage static routes"},
    {"static_rules", R, true, 0, 0, nullptr, "", false, "xlb does not manage routing rules"},
    {"vrrp_track_process", R, true, 1, 1, nullptr, "", false, "use a vrrp_script"},
    {"track_file", R, true, 1, 1, nullptr, "", false, "use a vrrp_script"},
    {"vrrp_track_file", R, true, 1, 1, nullptr, "", false, "use a vrrp_script"},
    {"garp_group", R, true, 0, 0, nullptr},
    {"bfd_instance", R, true, 1, 1, nullptr, "", false, "no BFD"},
    {"linkbeat_interfaces", R, true, 0, 0, nullptr, "", false, "link state comes from netlink"},
};

// keepalived fills several values from elsewhere in the file; do it once everything is read.
void resolve_defaults(Config& cfg) {
  const GlobalDefs& g = cfg.global_defs;
  for (auto& in : cfg.vrrp_instances) {
    if (!in.version.set) in.version.value = g.vrrp_version.value;
    if (!in.garp_master_delay.set) in.garp_master_delay.value = g.vrrp_garp_master_delay.value;
    if (!in.garp_master_repeat.set) in.garp_master_repeat.value = g.vrrp_garp_master_repeat.value;
    if (!in.garp_master_refresh.set) in.garp_master_refresh.value = g.vrrp_garp_master_refresh.value;
    if (!in.accept.set && g.vrrp_strict.value) in.accept.value = false;
  }
  for (auto& vs : cfg.virtual_servers) {
    for (auto& rs : vs.real_servers) {
      if (!rs.inhibit_on_failure.set) rs.inhibit_on_failure.value = vs.inhibit_on_failure.value;
      for (auto& ch : rs.checkers) {
        if (!ch.delay_loop.set) ch.delay_loop.value = vs.delay_loop.value;
        if (!ch.misc_timeout.set) ch.misc_timeout.value = ch.delay_loop.value;
        if (!ch.virtualhost.set) ch.virtualhost.value = vs.virtualhost.value;
      }
    }
  }
}

}  // namespace

void parse_config(ParseContext& ctx, StatementReader& statements, Config& out) {
  // The model's largest list, sized once rather than doubled: its slack would be the peak.
  out.virtual_servers.reserve(statements.count_lines_starting("virtual_server"));
  while (auto n = statements.next()) {
    const char first = n->key.text.empty() ? '\0' : n->key.text[0];
    if (!n->key.quoted && (first == '@' || first == '$')) {
      ctx.diags().error(n->key.loc, "keepalived's conditional and variable lines ('@...', '$...') are not supported by xlb");
      continue;
    }
    ctx.dispatch<Config>(std::span(&*n, 1), top_keywords, out, "the top level");
  }
  resolve_defaults(out);
}

std::vector<KeywordInfo> keyword_reference() {
  std::vector<KeywordInfo> out;
  describe<Config>(out, "top", top_keywords);
  describe_global(out);
  describe_vrrp(out);
  describe_lvs(out);
  describe_checker(out);
  return out;
}

}  // namespace xlb::config
