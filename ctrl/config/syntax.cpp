#include "ctrl/config/syntax.hpp"

namespace xlb::config {

std::optional<Node> StatementReader::next() {
  bool closed = false;
  return statement(0, false, closed);
}

std::size_t StatementReader::count_lines_starting(std::string_view word) const {
  std::size_t n = 0;
  bool line_start = true;
  for (const auto& t : toks_) {
    if (line_start && t.kind == Token::Kind::word && !t.quoted && t.text == word) ++n;
    line_start = t.kind == Token::Kind::eol;
  }
  return n;
}

Token StatementReader::take() {
  Token t = std::move(toks_.front());
  toks_.pop_front();
  return t;
}

// The next statement of the current block; nullopt at the block's '}' (`closed`) or at the end
// of input.
std::optional<Node> StatementReader::statement(unsigned depth, bool inside_block, bool& closed) {
  closed = false;
  while (!at_end()) {
    Token t = take();
    switch (t.kind) {
      case Token::Kind::eol:
        break;
      case Token::Kind::close:
        if (inside_block) {
          closed = true;
          return std::nullopt;
        }
        diags_.error(t.loc, "unexpected '}' without a matching '{'");
        break;
      case Token::Kind::open: {
        diags_.error(t.loc, "unexpected '{' without a keyword before it");
        Node dummy;
        open_block(dummy, t.loc, depth);
        break;
      }
      case Token::Kind::word: {
        Node n;
        n.key = std::move(t);
        while (!at_end() && kind() == Token::Kind::word) n.args.push_back(take());
        // keepalived accepts the opening brace on a line after its keyword. A '}' right after
        // the statement on the same line closes the enclosing block (the next call sees it).
        while (!at_end() && kind() == Token::Kind::eol) take();
        if (!at_end() && kind() == Token::Kind::open) open_block(n, take().loc, depth);
        return n;
      }
    }
  }
  return std::nullopt;
}

void StatementReader::open_block(Node& n, const SourceLoc& brace, unsigned depth) {
  n.has_block = true;
  if (depth + 1 >= max_block_depth) {
    diags_.error(brace, "blocks nested deeper than " + std::to_string(max_block_depth) + " levels");
    skip_block(brace);
    return;
  }
  bool closed = false;
  while (auto child = statement(depth + 1, true, closed)) n.children.push_back(std::move(*child));
  if (!closed) diags_.error(brace, "missing '}' for the block opened here");
}

void StatementReader::skip_block(const SourceLoc& brace) {
  unsigned level = 1;
  while (!at_end()) {
    const auto k = take().kind;
    if (k == Token::Kind::open) ++level;
    if (k == Token::Kind::close && --level == 0) return;
  }
  diags_.error(brace, "missing '}' for the block opened here");
}

}  // namespace xlb::config
