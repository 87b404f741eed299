// Prometheus text exposition (format 0.0.4): families with HELP and TYPE, escaped labels.
// A scrape at 1,000 reals writes some 7,000 samples: each is appended in place, and a label
// set that several families repeat (a real's vip and real) is escaped and joined once
// (label_text) instead of once per family.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xlb::api {

using Labels = std::vector<std::pair<std::string, std::string>>;

class MetricsText {
 public:
  enum class Type { counter, gauge, histogram };

  // Starts a family; samples added until the next family() belong to it.
  void family(const std::string& name, Type type, const std::string& help);
  void sample(const Labels& labels, double value);
  // A sample of the current family with a name suffix (histograms: _bucket, _sum, _count).
  void sample(const std::string& suffix, const Labels& labels, double value);
  // A sample whose labels label_text() spelled: the same line as sample(labels, value).
  void sample_spelled(std::string_view label_text, double value);
  // `a="x",b="y"`: the labels escaped and joined, for sample_spelled.
  static std::string label_text(const Labels& labels);
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::string current_;
};

// Cumulative buckets for latency histograms (seconds).
struct Histogram {
  std::vector<double> bounds;          // upper bounds, ascending; +Inf is implicit
  std::vector<std::uint64_t> buckets;  // cumulative counts, one per bound
  std::uint64_t count = 0;
  double sum = 0;

  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  void write(MetricsText& out, const Labels& labels) const;
};

}  // namespace xlb::api
