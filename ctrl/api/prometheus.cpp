#include "ctrl/api/prometheus.hpp"

#include <cmath>
#include <cstdio>

namespace xlb::api {

namespace {

std::string escape_label(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  char buffer[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof(buffer), "%.0f", value);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.9g", value);
  }
  return buffer;
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
  text_ += current_ + suffix;
  if (!labels.empty()) {
    text_ += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (i != 0) text_ += ',';
      text_ += labels[i].first + "=\"" + escape_label(labels[i].second) + '"';
    }
    text_ += '}';
  }
  text_ += ' ' + format_value(value) + '\n';
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
