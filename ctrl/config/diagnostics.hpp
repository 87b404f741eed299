// Where a value came from, and the problems found in a configuration. Every problem is
// collected (never stop at the first) and printed in GNU form so editors can jump to it.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace xlb::config {

// A file's name, shared by every location in that file: a configuration holds a location per
// token and per value, tens of millions for a large file, and a copy of the name in each made
// the name the largest part of the model.
class FileName {
 public:
  FileName() = default;
  FileName(std::string name)  // NOLINT: a name converts as naturally as the string it holds
      : name_(std::make_shared<const std::string>(std::move(name))) {}
  FileName(const char* name) : FileName(std::string(name)) {}  // NOLINT: as above
  const std::string& str() const { return name_ ? *name_ : empty(); }
  operator const std::string&() const { return str(); }  // NOLINT: as above
  bool operator==(const FileName& o) const { return name_ == o.name_ || str() == o.str(); }

 private:
  static const std::string& empty();
  std::shared_ptr<const std::string> name_;
};

inline std::string operator+(const FileName& a, const std::string& b) { return a.str() + b; }
inline std::string operator+(const FileName& a, const char* b) { return a.str() + b; }

struct SourceLoc {
  FileName file;
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
