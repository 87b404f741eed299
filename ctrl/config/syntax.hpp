// The generic shape of a keepalived configuration: statements (a keyword, its arguments on the
// same line, and an optional block of further statements) before any keyword has a meaning.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "ctrl/config/diagnostics.hpp"
#include "ctrl/config/lexer.hpp"

namespace xlb::config {

struct Node {
  Token key;
  std::vector<Token> args;
  bool has_block = false;
  std::vector<Node> children;
};

inline constexpr unsigned max_block_depth = 16;

// Hands out the top-level statements one at a time, taking tokens off the stream as it goes:
// a large file is never held whole as both tokens and tree, nor as tree and model.
class StatementReader {
 public:
  StatementReader(TokenStream tokens, Diagnostics& diags) : toks_(std::move(tokens)), diags_(diags) {}
  // The next top-level statement with its block; nullopt at the end of input.
  std::optional<Node> next();
  // How many lines of the remaining input start with `word`: an upper bound on that keyword's
  // statements, to size a list once.
  std::size_t count_lines_starting(std::string_view word) const;

 private:
  bool at_end() const { return toks_.empty(); }
  Token::Kind kind() const { return toks_.front().kind; }
  Token take();
  std::optional<Node> statement(unsigned depth, bool inside_block, bool& closed);
  void open_block(Node& n, const SourceLoc& brace, unsigned depth);
  void skip_block(const SourceLoc& brace);

  TokenStream toks_;
  Diagnostics& diags_;
};

}  // namespace xlb::config
