#include "ctrl/config/source.hpp"

#include <glob.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

namespace xlb::config {
namespace {

namespace fs = std::filesystem;

struct GlobDeleter {
  void operator()(glob_t* g) const {
    globfree(g);
    delete g;
  }
};

bool has_glob_meta(std::string_view s) { return s.find_first_of("*?[{") != std::string_view::npos; }

}  // namespace

TokenStream SourceReader::read_file(const std::string& path) {
  TokenStream out;
  include_one(path, Token{Token::Kind::word, path, false, SourceLoc{path, 1, 1}}, 0, out);
  return out;
}

TokenStream SourceReader::read_text(std::string_view text, const std::string& name) {
  TokenStream out;
  stack_.push_back(name);
  files_.push_back(name);
  expand(text, name, 0, out);
  stack_.pop_back();
  return out;
}

void SourceReader::expand(std::string_view text, const std::string& file, unsigned depth,
                          TokenStream& out) {
  TokenStream tokens;
  lex(text, file, tokens, diags_);
  // keepalived recognises include as the first word of a line, anywhere (even inside a block).
  // Line by line, freeing this file's tokens as they move, so that they are held once.
  std::vector<Token> line;
  while (!tokens.empty()) {
    line.push_back(std::move(tokens.front()));
    tokens.pop_front();
    if (line.back().kind != Token::Kind::eol && !tokens.empty()) continue;
    if (line.front().kind == Token::Kind::word && !line.front().quoted && line.front().text == "include")
      include(line, file, depth, out);
    else
      std::move(line.begin(), line.end(), std::back_inserter(out));
    line.clear();
  }
}

void SourceReader::include(const std::vector<Token>& line, const std::string& file, unsigned depth,
                           TokenStream& out) {
  const Token& kw = line.front();
  // line = include, pattern..., eol
  if (line.size() != 3 || line[1].kind != Token::Kind::word) {
    diags_.error(kw.loc, "'include' expects exactly one file name or pattern");
    return;
  }
  const Token& arg = line[1];
  if (!limits_.allow_include) {
    diags_.error(kw.loc, "include '" + arg.text + "' is not allowed here");
    return;
  }
  if (depth + 1 > limits_.max_include_depth) {
    diags_.error(kw.loc, "include '" + arg.text + "' nests deeper than " +
                             std::to_string(limits_.max_include_depth) + " levels");
    return;
  }
  fs::path pattern(arg.text);
  if (pattern.is_relative()) pattern = fs::path(file).parent_path() / pattern;
  const std::string pat = pattern.string();
  if (!has_glob_meta(arg.text)) {
    std::error_code ec;
    if (!fs::exists(pattern, ec)) {
      diags_.error(kw.loc, "cannot open included file '" + pat + "': No such file or directory");
      return;
    }
    include_one(pat, kw, depth + 1, out);
    return;
  }
  std::unique_ptr<glob_t, GlobDeleter> g(new glob_t{});
  const int rc = ::glob(pat.c_str(), GLOB_BRACE | GLOB_MARK, nullptr, g.get());
  if (rc == GLOB_NOMATCH || (rc == 0 && g->gl_pathc == 0)) {
    diags_.error(kw.loc, "include '" + arg.text + "' matches no file (looked for '" + pat + "')");
    return;
  }
  if (rc != 0) {
    diags_.error(kw.loc, "include '" + arg.text + "': cannot read the folder");
    return;
  }
  for (std::size_t i = 0; i < g->gl_pathc; ++i) {
    std::string p = g->gl_pathv[i];
    if (!p.empty() && p.back() == '/') continue;  // GLOB_MARK: a folder, not a config file
    include_one(p, kw, depth + 1, out);
  }
}

void SourceReader::include_one(const std::string& path, const Token& at, unsigned depth,
                               TokenStream& out) {
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(path, ec);
  const std::string key = ec ? path : canonical.string();
  if (std::find(stack_.begin(), stack_.end(), key) != stack_.end()) {
    diags_.error(at.loc, "include cycle: '" + path + "' is already being read");
    return;
  }
  if (++files_read_ > limits_.max_files) {
    if (files_read_ == limits_.max_files + 1)
      diags_.error(at.loc, "more than " + std::to_string(limits_.max_files) + " configuration files");
    return;
  }
  // Check the type before opening: opening a FIFO would block the loader.
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    diags_.error(at.loc, "cannot open '" + path + "': " + (ec ? ec.message() : "No such file or directory"));
    return;
  }
  const auto size = fs::is_regular_file(status) ? fs::file_size(path, ec) : 0;
  if (!fs::is_regular_file(status) || ec || size > limits_.max_file_bytes) {
    diags_.error(at.loc, "'" + path + "' is not a regular file of at most " +
                             std::to_string(limits_.max_file_bytes) + " bytes");
    return;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags_.error(at.loc, "cannot open '" + path + "': " + std::strerror(errno));
    return;
  }
  std::string text(size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  text.resize(static_cast<std::size_t>(in.gcount()));
  files_.push_back(path);
  stack_.push_back(key);
  expand(text, path, depth, out);
  stack_.pop_back();
}

}  // namespace xlb::config
