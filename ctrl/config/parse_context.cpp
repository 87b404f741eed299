#include "ctrl/config/parse_context.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace xlb::config {

std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t bound) {
  constexpr std::size_t max_len = 64;
  if (a.size() > max_len || b.size() > max_len) return bound + 1;
  std::array<std::size_t, max_len + 1> prev{}, cur{};
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    std::size_t row_min = cur[0];
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({sub, prev[j] + 1, cur[j - 1] + 1});
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > bound) return bound + 1;  // every later row is at least this far
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

void ParseContext::unknown(const Node& n, const std::vector<std::string_view>& names,
                           const std::string& where) {
  const std::string& word = n.key.text;
  std::string suggestion;
  // A space typed instead of an underscore: "unicast src_ip" means "unicast_src_ip".
  if (!n.args.empty()) {
    for (const std::string& joined : {word + "_" + n.args[0].text, word + n.args[0].text})
      if (std::find(names.begin(), names.end(), joined) != names.end()) suggestion = joined;
  }
  // A keyword of another section ("vrrp_strict" inside a vrrp_instance): say where it goes.
  std::string elsewhere;
  if (suggestion.empty()) {
    if (!reference_) reference_ = keyword_reference();
    std::vector<std::string> sections;
    for (const auto& k : *reference_)
      if (k.name == word && k.section != "top" &&
          std::find(sections.begin(), sections.end(), k.section) == sections.end())
        sections.push_back(k.section);
    for (std::size_t i = 0; i < sections.size(); ++i)
      elsewhere += (i == 0 ? "" : i + 1 == sections.size() ? " or " : ", ") + sections[i];
    if (std::find_if(reference_->begin(), reference_->end(), [&](const KeywordInfo& k) {
          return k.name == word && k.section == "top";
        }) != reference_->end())
      elsewhere = "the top level";
  }
  if (suggestion.empty() && elsewhere.empty()) {
    std::size_t best = word.size() <= 4 ? 1 : 2;
    for (auto name : names) {
      // The distance is at least the length difference: skip the table's far misses cheaply.
      const std::size_t gap = name.size() > word.size() ? name.size() - word.size() : word.size() - name.size();
      if (gap > best) continue;
      const std::size_t d = edit_distance(word, name, best);
      if (d <= best) {
        best = d;
        suggestion = std::string(name);
        if (d == 0) break;
      }
    }
    // Case-only differences ("http_get" for "HTTP_GET") are worth suggesting too.
    if (suggestion.empty()) {
      for (auto name : names)
        if (name.size() == word.size() &&
            std::equal(name.begin(), name.end(), word.begin(), [](char x, char y) {
              return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
            }))
          suggestion = std::string(name);
    }
  }
  std::string msg = "unknown keyword '" + word + "' in " + where;
  if (!suggestion.empty()) msg += "; did you mean '" + suggestion + "'?";
  else if (!elsewhere.empty()) msg += "; it belongs in " + elsewhere;
  diags_.error(n.key.loc, std::move(msg));
}

bool ParseContext::check_shape(const Node& n, std::string_view name, bool block, unsigned min_args,
                               unsigned max_args) {
  const std::string kw(name);
  if (block && !n.has_block) {
    diags_.error(n.key.loc, "'" + kw + "' needs a { } block");
    return false;
  }
  if (!block && n.has_block) {
    diags_.error(n.key.loc, "'" + kw + "' does not take a { } block");
    return false;
  }
  if (n.args.size() < min_args || n.args.size() > max_args) {
    std::string expect;
    if (min_args == max_args)
      expect = std::to_string(min_args) + (min_args == 1 ? " argument" : " arguments");
    else if (max_args >= many)
      expect = "at least " + std::to_string(min_args) + (min_args == 1 ? " argument" : " arguments");
    else
      expect = std::to_string(min_args) + " to " + std::to_string(max_args) + " arguments";
    const SourceLoc& at = n.args.size() > max_args ? n.args[max_args].loc : n.key.loc;
    diags_.error(at, "'" + kw + "' takes " + expect + ", got " + std::to_string(n.args.size()));
    return false;
  }
  return true;
}

std::optional<std::int64_t> ParseContext::integer(const Token& t, std::int64_t lo, std::int64_t hi,
                                                  std::string_view what) {
  std::int64_t v = 0;
  const char* b = t.text.data();
  const char* e = b + t.text.size();
  if (b != e && *b == '+') ++b;
  auto [p, ec] = std::from_chars(b, e, v);
  if (b == e || p != e || ec == std::errc::invalid_argument) {
    diags_.error(t.loc, "'" + std::string(what) + "' expects an integer, got '" + t.text + "'");
    return std::nullopt;
  }
  if (ec == std::errc::result_out_of_range || v < lo || v > hi) {
    diags_.error(t.loc, std::string(what) + " " + t.text + " is out of range (" + std::to_string(lo) +
                            "-" + std::to_string(hi) + ")");
    return std::nullopt;
  }
  return v;
}

std::optional<std::uint32_t> ParseContext::centiseconds(const Token& t, std::string_view what) {
  const std::string& s = t.text;
  const auto dot = s.find('.');
  const std::string whole = s.substr(0, dot);
  const std::string frac = dot == std::string::npos ? "" : s.substr(dot + 1);
  auto digits = [](const std::string& x) {
    return std::all_of(x.begin(), x.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if ((whole.empty() && frac.empty()) || !digits(whole) || !digits(frac) || whole.size() > 6 ||
      (dot != std::string::npos && frac.empty())) {
    diags_.error(t.loc, "'" + std::string(what) + "' expects a number of seconds, got '" + s + "'");
    return std::nullopt;
  }
  if (frac.size() > 2) {
    diags_.error(t.loc, std::string(what) + " " + s + " has more precision than centiseconds");
    return std::nullopt;
  }
  std::uint32_t cs = whole.empty() ? 0 : static_cast<std::uint32_t>(std::stoul(whole)) * 100;
  if (!frac.empty()) cs += static_cast<std::uint32_t>(std::stoul(frac)) * (frac.size() == 1 ? 10 : 1);
  return cs;
}

std::optional<IpAddr> ParseContext::address(const Token& t, std::string_view what) {
  auto a = IpAddr::parse(t.text);
  if (!a) diags_.error(t.loc, "'" + std::string(what) + "' expects an IP address, got '" + t.text + "'");
  return a;
}

std::optional<bool> ParseContext::boolean(const Token& t, std::string_view what) {
  static constexpr std::string_view yes[] = {"on", "yes", "true", "1"};
  static constexpr std::string_view no[] = {"off", "no", "false", "0"};
  for (auto y : yes)
    if (t.text == y) return true;
  for (auto n : no)
    if (t.text == n) return false;
  diags_.error(t.loc, "'" + std::string(what) + "' expects on or off, got '" + t.text + "'");
  return std::nullopt;
}

std::optional<bool> ParseContext::flag(const Node& n) {
  if (n.args.empty()) return true;
  return boolean(n.args[0], n.key.text);
}

std::optional<std::uint16_t> ParseContext::port(const Token& t, std::string_view what) {
  auto v = integer(t, 0, 65535, what);
  if (!v) return std::nullopt;
  return static_cast<std::uint16_t>(*v);
}

std::optional<std::size_t> ParseContext::choice(const Token& t,
                                                std::initializer_list<std::string_view> options,
                                                std::string_view what, bool ignore_case) {
  std::size_t i = 0;
  for (auto o : options) {
    const bool eq = ignore_case ? std::equal(o.begin(), o.end(), t.text.begin(), t.text.end(),
                                             [](char a, char b) {
                                               return std::toupper(static_cast<unsigned char>(a)) ==
                                                      std::toupper(static_cast<unsigned char>(b));
                                             })
                                : o == t.text;
    if (eq) return i;
    ++i;
  }
  std::string list;
  i = 0;
  for (auto o : options) {
    list += (i == 0 ? "" : (i + 1 == options.size() ? " or " : ", ")) + std::string(o);
    ++i;
  }
  diags_.error(t.loc, std::string(what) + " '" + t.text + "' is not valid (expected " + list + ")");
  return std::nullopt;
}

std::string ParseContext::joined(const Node& n) {
  std::string s;
  for (const auto& a : n.args) {
    if (!s.empty()) s += ' ';
    s += a.text;
  }
  return s;
}

}  // namespace xlb::config
