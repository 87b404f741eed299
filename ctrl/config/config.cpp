#include "ctrl/config/config.hpp"

#include <algorithm>

#include "ctrl/config/parsers.hpp"
#include "ctrl/config/syntax.hpp"

namespace xlb::config {
namespace {

LoadResult finish(std::vector<Token> tokens, const Options& options, Diagnostics& diags) {
  LoadResult r;
  const auto tree = build_tree(tokens, diags);
  tokens.clear();
  ParseContext ctx(diags);
  parse_config(ctx, tree, r.config);
  if (!diags.saturated()) validate(r.config, options, diags);
  r.diagnostics = diags.take();
  return r;
}

}  // namespace

bool LoadResult::ok() const { return error_count() == 0; }

std::size_t LoadResult::error_count() const {
  return static_cast<std::size_t>(std::count_if(diagnostics.begin(), diagnostics.end(),
                                                [](const Diagnostic& d) { return d.severity == Severity::error; }));
}

std::size_t LoadResult::warning_count() const { return diagnostics.size() - error_count(); }

LoadResult load_file(const std::string& path, const Options& options) {
  Diagnostics diags;
  SourceReader reader(options.limits, diags);
  auto tokens = reader.read_file(path);
  return finish(std::move(tokens), options, diags);
}

LoadResult load_string(std::string_view text, const std::string& name, const Options& options) {
  Diagnostics diags;
  SourceReader reader(options.limits, diags);
  if (text.size() > options.limits.max_file_bytes) {
    diags.error(SourceLoc{name, 1, 1}, "'" + name + "' is larger than " +
                                           std::to_string(options.limits.max_file_bytes) + " bytes");
    LoadResult r;
    r.diagnostics = diags.take();
    return r;
  }
  auto tokens = reader.read_text(text, name);
  return finish(std::move(tokens), options, diags);
}

}  // namespace xlb::config
