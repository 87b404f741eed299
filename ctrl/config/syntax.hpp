// The generic shape of a keepalived configuration: statements (a keyword, its arguments on the
// same line, and an optional block of further statements) before any keyword has a meaning.
#pragma once

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

std::vector<Node> build_tree(const std::vector<Token>& tokens, Diagnostics& diags);

}  // namespace xlb::config
