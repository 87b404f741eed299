// Where a value came from, and the problems found in a configuration. Every problem is
// collected (never stop at the first) and printed in GNU form so editors can jump to it.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace xlb::config {

struct SourceLoc {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t col = 0;
  bool operator==(const SourceLoc&) const = default;
};

// "file:line:col", the prefix of every diagnostic.
std::string to_string(const SourceLoc& loc);

enum class Severity { warning, error };

struct Diagnostic {
  Severity severity = Severity::error;
  SourceLoc loc;
  std::string message;
  bool machine = false;  // something this machine lacks: xlbd would not start here
  bool operator==(const Diagnostic&) const = default;
};

// "file:line:col: error: message"
std::string to_string(const Diagnostic& d);

class Diagnostics {
 public:
  void error(const SourceLoc& loc, std::string message);
  void warning(const SourceLoc& loc, std::string message);
  // Machine-dependent findings: warnings while testing a config, errors when starting from it.
  void report(Severity severity, const SourceLoc& loc, std::string message);

  const std::vector<Diagnostic>& all() const { return items_; }
  std::vector<Diagnostic> take() { return std::move(items_); }
  std::size_t error_count() const;
  std::size_t warning_count() const;
  std::size_t machine_count() const;
  // Stops runaway input (the fuzzer, a binary file) from producing millions of lines.
  bool saturated() const { return items_.size() >= limit_; }

 private:
  void add(Diagnostic d);
  std::vector<Diagnostic> items_;
  std::size_t limit_ = 1000;
};

void print_diagnostics(std::ostream& out, const std::vector<Diagnostic>& diags);

}  // namespace xlb::config
