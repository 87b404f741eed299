// The template frame: flow 0 of the sequence, with correct checksums. The XDP program derives
// every other flow from it by incremental checksum updates.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "options.hpp"

namespace xlb::pktgen {

std::vector<std::uint8_t> build_template(const Options& options, const MacAddress& src_mac);

// One's-complement sum of the bytes (network order words), not yet folded or inverted.
std::uint32_t ones_sum(std::span<const std::uint8_t> bytes, std::uint32_t sum = 0);
std::uint16_t fold_checksum(std::uint32_t sum);

}  // namespace xlb::pktgen
