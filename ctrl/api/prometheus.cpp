#include "ctrl/api/prometheus.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace xlb::api {

namespace {

void append_escaped(std::string& out, const std::string& value) {
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

void append_labels(std::string& out, const Labels& labels) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i != 0) out += ',';
    out += labels[i].first;
    out += "=\"";
    append_escaped(out, labels[i].second);
    out += '"';
  }
}

void append_value(std::string& out, double value) {
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  char buffer[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    // Counters are whole numbers: to_chars of the integer spells them as "%.0f" does.
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), static_cast<std::int64_t>(value));
    out.append(buffer, end);
  } else {
    const int n = std::snprintf(buffer, sizeof(buffer), "%.9g", value);
    out.append(buffer, static_cast<std::size_t>(n));
  }
}

std::string format_value(double value) {
  std::string out;
  append_value(out, value);
  return out;
}

const char* type_name(MetricsText::Type type) {
  switch (type) {
    case MetricsText::Type::counter: return "counter";
    case MetricsText::Type::gauge: return "gauge";
    case MetricsText::Type::histogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

void MetricsText::family(const std::string& name, Type type, const std::string& help) {
  current_ = name;
  text_ += "# HELP " + name + " " + help + "\n";
  text_ += "# TYPE " + name + " " + type_name(type) + "\n";
}

void MetricsText::sample(const Labels& labels, double value) { sample("", labels, value); }

void MetricsText::sample(const std::string& suffix, const Labels& labels, double value) {
  text_ += current_;
  text_ += suffix;
  if (!labels.empty()) {
    text_ += '{';
    append_labels(text_, labels);
    text_ += '}';
  }
  text_ += ' ';
  append_value(text_, value);
  text_ += '\n';
}

void MetricsText::sample_spelled(std::string_view label_text, double value) {
  text_ += current_;
  if (!label_text.empty()) {
    text_ += '{';
    text_ += label_text;
    text_ += '}';
  }
  text_ += ' ';
  append_value(text_, value);
  text_ += '\n';
}

std::string MetricsText::label_text(const Labels& labels) {
  std::string out;
  append_labels(out, labels);
  return out;
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds(std::move(upper_bounds)), buckets(bounds.size(), 0) {}

void Histogram::observe(double value) {
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (value <= bounds[i]) ++buckets[i];
  }
  ++count;
  sum += value;
}

void Histogram::write(MetricsText& out, const Labels& labels) const {
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    Labels with_le = labels;
    with_le.emplace_back("le", format_value(bounds[i]));
    out.sample("_bucket", with_le, static_cast<double>(buckets[i]));
  }
  Labels with_inf = labels;
  with_inf.emplace_back("le", "+Inf");
  out.sample("_bucket", with_inf, static_cast<double>(count));
  out.sample("_sum", labels, sum);
  out.sample("_count", labels, static_cast<double>(count));
}

}  // namespace xlb::api
