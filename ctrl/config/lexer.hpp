// Tokens of keepalived's dialect: words, quoted strings and the braces; '#' and '!' start a
// comment when they begin a word. Lines matter (a statement ends at the end of its line), so
// the lexer emits an end-of-line token too.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ctrl/config/diagnostics.hpp"

namespace xlb::config {

struct Token {
  enum class Kind { word, open, close, eol };
  Kind kind = Kind::word;
  std::string text;
  bool quoted = false;
  SourceLoc loc;
};

// Appends the tokens of `text` (attributed to `file`) to `out`; every line ends with an eol token.
void lex(std::string_view text, const std::string& file, std::vector<Token>& out,
         Diagnostics& diags);

}  // namespace xlb::config
