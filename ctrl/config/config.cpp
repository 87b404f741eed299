#include "ctrl/config/config.hpp"

#include <algorithm>
#include <filesystem>
#include <new>
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

LoadResult finish(TokenStream tokens, const Options& options, Diagnostics& diags,
                  const std::vector<std::string>& files) {
  LoadResult r;
  ParseContext ctx(diags);
  StatementReader statements(std::move(tokens), diags);
  parse_config(ctx, statements, r.config);
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
  try {
    Diagnostics diags;
    SourceReader reader(options.limits, diags);
    auto tokens = reader.read_file(path);
    return finish(std::move(tokens), options, diags, reader.files());
  } catch (const std::bad_alloc&) {
    // Everything the load held is freed by now, so there is room to say so.
    std::error_code ec;
    const auto bytes = std::filesystem::file_size(path, ec);
    LoadResult r;
    r.diagnostics.push_back({Severity::error, SourceLoc{path, 1, 1},
                             "out of memory while reading this configuration" +
                                 (ec ? std::string() : " (" + std::to_string(bytes) + " bytes)") +
                                 "; see docs/operations.md for what a configuration costs",
                             false});
    return r;
  }
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
