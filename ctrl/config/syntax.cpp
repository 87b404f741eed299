#include "ctrl/config/syntax.hpp"

namespace xlb::config {
namespace {

class TreeBuilder {
 public:
  TreeBuilder(const std::vector<Token>& tokens, Diagnostics& diags) : toks_(tokens), diags_(diags) {}

  std::vector<Node> run() {
    std::vector<Node> top;
    block(top, 0, nullptr);
    return top;
  }

 private:
  bool at_end() const { return pos_ >= toks_.size(); }
  const Token& cur() const { return toks_[pos_]; }

  // Parses statements until the matching '}' (opener != nullptr) or the end of input.
  void block(std::vector<Node>& out, unsigned depth, const Token* opener) {
    bool last_line_was_statement = false;
    while (!at_end()) {
      const Token& t = cur();
      switch (t.kind) {
        case Token::Kind::eol:
          ++pos_;
          break;
        case Token::Kind::close:
          ++pos_;
          if (opener) return;
          diags_.error(t.loc, "unexpected '}' without a matching '{'");
          break;
        case Token::Kind::open:
          // keepalived accepts the opening brace on the line after its keyword.
          if (last_line_was_statement && !out.empty() && !out.back().has_block) {
            ++pos_;
            open_block(out.back(), t, depth);
          } else {
            diags_.error(t.loc, "unexpected '{' without a keyword before it");
            ++pos_;
            Node dummy;
            open_block(dummy, t, depth);
          }
          break;
        case Token::Kind::word: {
          Node n;
          n.key = t;
          ++pos_;
          while (!at_end() && cur().kind == Token::Kind::word) n.args.push_back(toks_[pos_++]);
          if (!at_end() && cur().kind == Token::Kind::open) {
            const Token& brace = cur();
            ++pos_;
            open_block(n, brace, depth);
          }
          out.push_back(std::move(n));
          // A '}' right after the statement on the same line closes the enclosing block.
          last_line_was_statement = !out.back().has_block;
          continue;
        }
      }
      last_line_was_statement = last_line_was_statement && t.kind == Token::Kind::eol &&
                                !out.empty() && !out.back().has_block;
    }
    if (opener) diags_.error(opener->loc, "missing '}' for the block opened here");
  }

  void open_block(Node& n, const Token& brace, unsigned depth) {
    n.has_block = true;
    if (depth + 1 >= max_block_depth) {
      diags_.error(brace.loc, "blocks nested deeper than " + std::to_string(max_block_depth) + " levels");
      skip_block(brace);
      return;
    }
    block(n.children, depth + 1, &brace);
  }

  void skip_block(const Token& brace) {
    unsigned level = 1;
    while (!at_end()) {
      const auto k = toks_[pos_++].kind;
      if (k == Token::Kind::open) ++level;
      if (k == Token::Kind::close && --level == 0) return;
    }
    diags_.error(brace.loc, "missing '}' for the block opened here");
  }

  const std::vector<Token>& toks_;
  Diagnostics& diags_;
  std::size_t pos_ = 0;
};

}  // namespace

std::vector<Node> build_tree(const std::vector<Token>& tokens, Diagnostics& diags) {
  return TreeBuilder(tokens, diags).run();
}

}  // namespace xlb::config
