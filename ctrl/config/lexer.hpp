// Tokens of keepalived's dialect: words, quoted strings and the braces; '#' and '!' start a
// comment when they begin a word. Lines matter (a statement ends at the end of its line), so
// the lexer emits an end-of-line token too.
#pragma once

#include <deque>
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

// A deque rather than a vector: its blocks are freed as the tree builder consumes it, and it
// grows without copying, so a large file's tokens and its tree are never both whole in memory.
using TokenStream = std::deque<Token>;

// Appends the tokens of `text` (attributed to `file`) to `out`; every line ends with an eol token.
void lex(std::string_view text, const FileName& file, TokenStream& out,
         Diagnostics& diags);

}  // namespace xlb::config
