#include "ctrl/dataplane/flow_counter.hpp"

#include <algorithm>

namespace xlb::dataplane {

FlowCounter::FlowCounter(std::uint64_t now_ns, std::chrono::nanoseconds active_window)
    : now_ns_(now_ns), window_ns_(static_cast<std::uint64_t>(std::max<std::int64_t>(active_window.count(), 0))) {}

FlowCounts FlowCounter::counts(const ServiceOf& service_of, const AddressOf& address_of) const {
  FlowCounts out;
  out.flows = total_;
  for (const auto& [pair, n] : active_) {
    const auto service = service_of(static_cast<std::uint32_t>(pair >> 32));
    const auto address = address_of(static_cast<std::uint32_t>(pair));
    if (!service || !address) continue;
    out.active[{*service, *address}] += n.recent;
    if (n.established != 0) out.established[{*service, *address}] += n.established;
  }
  return out;
}

}  // namespace xlb::dataplane
