#include "ctrl/config/config.hpp"

#include <algorithm>
#include <tuple>

#include "ctrl/config/parsers.hpp"
#include "ctrl/config/syntax.hpp"

namespace xlb::config {
namespace {

// Problems are found phase by phase (syntax, keywords, whole-file checks); report them in the
// order of the text, as compilers do: by file in reading order, then line and column.
void sort_by_position(std::vector<Diagnostic>& diags, const std::vector<std::string>& files) {
  auto file_rank = [&](const std::string& f) {
    const auto it = std::find(files.begin(), files.end(), f);
    return static_cast<std::size_t>(it - files.begin());
  };
  std::stable_sort(diags.begin(), diags.end(), [&](const Diagnostic& a, const Diagnostic& b) {
    return std::make_tuple(file_rank(a.loc.file), a.loc.line, a.loc.col) <
           std::make_tuple(file_rank(b.loc.file), b.loc.line, b.loc.col);
  });
}

LoadResult finish(std::vector<Token> tokens, const Options& options, Diagnostics& diags,
                  const std::vector<std::string>& files) {
  LoadResult r;
  const auto tree = build_tree(tokens, diags);
  tokens.clear();
  ParseContext ctx(diags);
  parse_config(ctx, tree, r.config);
  if (!diags.saturated()) validate(r.config, options, diags);
  r.diagnostics = diags.take();
  sort_by_position(r.diagnostics, files);
  return r;
}

}  // namespace

bool LoadResult::ok() const { return error_count() == 0; }

std::size_t LoadResult::error_count() const {
  return static_cast<std::size_t>(std::count_if(diagnostics.begin(), diagnostics.end(),
                                                [](const Diagnostic& d) { return d.severity == Severity::error; }));
}

std::size_t LoadResult::warning_count() const { return diagnostics.size() - error_count(); }

std::size_t LoadResult::machine_count() const {
  return static_cast<std::size_t>(
      std::count_if(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) { return d.machine; }));
}

LoadResult load_file(const std::string& path, const Options& options) {
  Diagnostics diags;
  SourceReader reader(options.limits, diags);
  auto tokens = reader.read_file(path);
  return finish(std::move(tokens), options, diags, reader.files());
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
  return finish(std::move(tokens), options, diags, reader.files());
}

}  // namespace xlb::config
