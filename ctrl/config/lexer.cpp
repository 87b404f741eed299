#include "ctrl/config/lexer.hpp"

namespace xlb::config {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Inside a word, "{a,b}" is a glob alternation (include conf.d/{a,b}.conf), not a block:
// it closes before the word ends and holds a comma. Returns the closing brace's index.
std::size_t glob_brace_end(std::string_view text, std::size_t open) {
  bool comma = false;
  for (std::size_t j = open + 1; j < text.size(); ++j) {
    const char c = text[j];
    if (c == '\n' || is_space(c) || c == '{') return std::string_view::npos;
    if (c == ',') comma = true;
    if (c == '}') return comma ? j : std::string_view::npos;
  }
  return std::string_view::npos;
}

}  // namespace

void lex(std::string_view text, const FileName& file, TokenStream& out,
         Diagnostics& diags) {
  std::uint32_t line = 1;
  std::size_t line_start = 0;
  std::size_t i = 0;
  auto loc_at = [&](std::size_t pos) {
    return SourceLoc{file, line, static_cast<std::uint32_t>(pos - line_start + 1)};
  };
  auto end_line = [&](std::size_t pos) {
    out.push_back({Token::Kind::eol, {}, false, loc_at(pos)});
    ++line;
    line_start = pos + 1;
  };
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') {
      end_line(i);
      ++i;
    } else if (is_space(c)) {
      ++i;
    } else if (c == '#' || c == '!') {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (c == '{' || c == '}') {
      out.push_back({c == '{' ? Token::Kind::open : Token::Kind::close, std::string(1, c), false,
                     loc_at(i)});
      ++i;
    } else if (c == '"') {
      Token tok{Token::Kind::word, {}, true, loc_at(i)};
      ++i;
      bool closed = false;
      while (i < text.size() && text[i] != '\n') {
        if (text[i] == '"') {
          closed = true;
          ++i;
          break;
        }
        if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == '"' || text[i + 1] == '\\')) ++i;
        tok.text.push_back(text[i]);
        ++i;
      }
      if (!closed) diags.error(tok.loc, "unterminated quoted string");
      out.push_back(std::move(tok));
    } else {
      Token tok{Token::Kind::word, {}, false, loc_at(i)};
      while (i < text.size() && text[i] != '\n' && !is_space(text[i])) {
        if (text[i] == '}') break;
        if (text[i] == '{') {
          const auto close = glob_brace_end(text, i);
          if (close == std::string_view::npos) break;  // "unicast_peer{": a block opens here
          tok.text.append(text.substr(i, close + 1 - i));
          i = close + 1;
          continue;
        }
        tok.text.push_back(text[i++]);
      }
      out.push_back(std::move(tok));
    }
  }
  out.push_back({Token::Kind::eol, {}, false, loc_at(i)});
}

}  // namespace xlb::config
