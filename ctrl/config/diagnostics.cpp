#include "ctrl/config/diagnostics.hpp"

#include <algorithm>

namespace xlb::config {

const std::string& FileName::empty() {
  static const std::string none;
  return none;
}

std::string to_string(const SourceLoc& loc) {
  return loc.file + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.col);
}

std::string to_string(const Diagnostic& d) {
  return to_string(d.loc) + (d.severity == Severity::error ? ": error: " : ": warning: ") +
         d.message;
}

void Diagnostics::error(const SourceLoc& loc, std::string message) {
  add({Severity::error, loc, std::move(message), false});
}

void Diagnostics::warning(const SourceLoc& loc, std::string message) {
  add({Severity::warning, loc, std::move(message), false});
}

void Diagnostics::report(Severity severity, const SourceLoc& loc, std::string message) {
  add({severity, loc, std::move(message), true});
}

void Diagnostics::add(Diagnostic d) {
  if (items_.size() >= limit_) return;
  const SourceLoc loc = d.loc;
  items_.push_back(std::move(d));
  if (items_.size() == limit_)
    items_.push_back({Severity::error, loc, "too many problems; stopping here", false});
}

std::size_t Diagnostics::machine_count() const {
  return static_cast<std::size_t>(
      std::count_if(items_.begin(), items_.end(), [](const Diagnostic& d) { return d.machine; }));
}

std::size_t Diagnostics::error_count() const {
  return static_cast<std::size_t>(std::count_if(
      items_.begin(), items_.end(), [](const Diagnostic& d) { return d.severity == Severity::error; }));
}

std::size_t Diagnostics::warning_count() const { return items_.size() - error_count(); }

void print_diagnostics(std::ostream& out, const std::vector<Diagnostic>& diags) {
  for (const auto& d : diags) out << to_string(d) << '\n';
}

}  // namespace xlb::config
