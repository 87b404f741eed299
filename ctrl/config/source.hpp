// Reads a configuration file and everything it includes into one token stream. `include`
// takes a glob with braces, resolved against the folder of the file that contains it;
// depth, file size and file count are capped so that hostile input cannot hang the reader.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ctrl/config/diagnostics.hpp"
#include "ctrl/config/lexer.hpp"

namespace xlb::config {

struct SourceLimits {
  bool allow_include = true;
  unsigned max_include_depth = 8;
  std::size_t max_file_bytes = 64u << 20;  // a 10,000-service file is about 10 MiB
  std::size_t max_files = 256;
};

class SourceReader {
 public:
  SourceReader(const SourceLimits& limits, Diagnostics& diags) : limits_(limits), diags_(diags) {}

  TokenStream read_file(const std::string& path);
  TokenStream read_text(std::string_view text, const std::string& name);
  // Every file read, in reading order (includes where they were included).
  const std::vector<std::string>& files() const { return files_; }

 private:
  void expand(std::string_view text, const std::string& file, unsigned depth,
              TokenStream& out);
  void include(const std::vector<Token>& line, const std::string& file, unsigned depth,
               TokenStream& out);
  void include_one(const std::string& path, const Token& at, unsigned depth,
                   TokenStream& out);

  SourceLimits limits_;
  Diagnostics& diags_;
  std::vector<std::string> stack_;  // canonical paths being read, to refuse include cycles
  std::size_t files_read_ = 0;
  std::vector<std::string> files_;
};

}  // namespace xlb::config
