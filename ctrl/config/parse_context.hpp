// Shared machinery of the section parsers: keyword tables (which also feed the reference
// documentation), value conversions that report problems at the offending token, and
// "did you mean" suggestions for unknown keywords.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ctrl/config/address.hpp"
#include "ctrl/config/diagnostics.hpp"
#include "ctrl/config/keywords.hpp"
#include "ctrl/config/model.hpp"
#include "ctrl/config/syntax.hpp"

namespace xlb::config {

class ParseContext;

inline constexpr unsigned many = 255;

template <class S>
struct Keyword {
  std::string_view name;
  Support support = Support::supported;
  bool block = false;  // takes a { } block
  unsigned min_args = 0, max_args = 0;
  void (*fn)(ParseContext&, const Node&, S&) = nullptr;
  std::string_view default_text = {};
  bool xlb = false;
  std::string_view note = {};
};

// Levenshtein distance, or bound + 1 once it is certain to exceed `bound`.
std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t bound);

class ParseContext {
 public:
  explicit ParseContext(Diagnostics& diags) : diags_(diags) {}
  Diagnostics& diags() { return diags_; }

  template <class S>
  void dispatch(std::span<const Node> nodes, std::span<const Keyword<S>> table, S& section,
                const std::string& where) {
    std::vector<std::string_view> names;
    for (const auto& k : table) names.push_back(k.name);
    for (const auto& n : nodes) {
      if (diags_.saturated()) return;
      const Keyword<S>* kw = nullptr;
      for (const auto& k : table)
        if (!n.key.quoted && k.name == n.key.text) kw = &k;
      if (!kw) {
        unknown(n, names, where);
        continue;
      }
      if (!check_shape(n, kw->name, kw->block, kw->min_args, kw->max_args)) continue;
      if (kw->support == Support::warned) {
        diags_.warning(n.key.loc, "'" + std::string(kw->name) +
                                      "' is not implemented by xlb and has no effect" +
                                      (kw->note.empty() ? "" : " (" + std::string(kw->note) + ")"));
        continue;
      }
      if (kw->support == Support::refused) {
        diags_.error(n.key.loc, "'" + std::string(kw->name) + "' is not supported by xlb" +
                                    (kw->note.empty() ? "" : ": " + std::string(kw->note)));
        continue;
      }
      kw->fn(*this, n, section);
    }
  }

  void unknown(const Node& n, const std::vector<std::string_view>& names, const std::string& where);
  bool check_shape(const Node& n, std::string_view name, bool block, unsigned min_args,
                   unsigned max_args);

  // Value conversions; on failure they report at the token and return nullopt.
  std::optional<std::int64_t> integer(const Token& t, std::int64_t lo, std::int64_t hi,
                                      std::string_view what);
  std::optional<std::uint32_t> centiseconds(const Token& t, std::string_view what);
  std::optional<IpAddr> address(const Token& t, std::string_view what);
  std::optional<bool> boolean(const Token& t, std::string_view what);
  // A flag keyword: no argument means on; one argument is a boolean.
  std::optional<bool> flag(const Node& n);
  std::optional<std::uint16_t> port(const Token& t, std::string_view what);
  // Keyword choices, e.g. {"MASTER","BACKUP"}; returns the index.
  std::optional<std::size_t> choice(const Token& t, std::initializer_list<std::string_view> options,
                                    std::string_view what, bool ignore_case = false);

  // The arguments joined as one command line (keepalived accepts scripts quoted or not).
  static std::string joined(const Node& n);

  template <class T>
  void set(Located<T>& dst, T value, const Node& n) {
    if (dst.set)
      diags_.warning(n.key.loc, "'" + n.key.text + "' was already set at " + to_string(dst.loc) +
                                    "; this value replaces it");
    dst.value = std::move(value);
    dst.loc = n.key.loc;
    dst.set = true;
  }

 private:
  Diagnostics& diags_;
  std::optional<std::vector<KeywordInfo>> reference_;  // built on the first unknown keyword
};

}  // namespace xlb::config
