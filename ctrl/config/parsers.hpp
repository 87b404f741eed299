// Section parsers: each walks one kind of block of the syntax tree into the typed model.
#pragma once

#include <vector>

#include "ctrl/config/keywords.hpp"
#include "ctrl/config/model.hpp"
#include "ctrl/config/parse_context.hpp"
#include "ctrl/config/syntax.hpp"

namespace xlb::config {

// Parses the whole tree (top-level statements) into `out`.
// Reads the statements one at a time, each freed once it is in the model.
void parse_config(ParseContext& ctx, StatementReader& statements, Config& out);

void parse_global_defs(ParseContext& ctx, const Node& n, GlobalDefs& g);
void parse_vrrp_script(ParseContext& ctx, const Node& n, VrrpScript& s);
void parse_vrrp_sync_group(ParseContext& ctx, const Node& n, VrrpSyncGroup& s);
void parse_vrrp_instance(ParseContext& ctx, const Node& n, VrrpInstance& s);
void parse_virtual_server(ParseContext& ctx, const Node& n, VirtualServer& vs);
void parse_virtual_server_group(ParseContext& ctx, const Node& n, VirtualServerGroup& g);
void parse_checker(ParseContext& ctx, const Node& n, CheckerType type, Checker& c);

// Reference rows of each table, for keyword_reference().
void describe_global(std::vector<KeywordInfo>& out);
void describe_vrrp(std::vector<KeywordInfo>& out);
void describe_lvs(std::vector<KeywordInfo>& out);
void describe_checker(std::vector<KeywordInfo>& out);

template <class S>
void describe(std::vector<KeywordInfo>& out, const char* section, std::span<const Keyword<S>> table) {
  for (const auto& k : table)
    out.push_back({section, std::string(k.name), k.support, std::string(k.default_text), k.xlb,
                   std::string(k.note), k.block, k.min_args});
}

}  // namespace xlb::config
