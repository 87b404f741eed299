// The small part of RFC 1035 that DNS_CHECK needs: encode one query, decode a response
// (header, question echo, answer records with name compression).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace xlb::check::dns {

// "A", "AAAA", "SOA", ... (case-insensitive); nullopt for an unknown type.
std::optional<std::uint16_t> type_from_name(const std::string& name);

// Throws std::invalid_argument for a name that cannot be encoded (label > 63, name > 255).
std::vector<std::uint8_t> encode_query(std::uint16_t id, const std::string& name,
                                       std::uint16_t type);

struct Record {
  std::string name;
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
  std::uint32_t ttl = 0;
  std::vector<std::uint8_t> data;
};

struct Response {
  std::uint16_t id = 0;
  bool is_response = false;
  bool truncated = false;
  std::uint8_t rcode = 0;
  std::string question_name;
  std::uint16_t question_type = 0;
  std::vector<Record> answers;
};

// nullopt when the message is malformed.
std::optional<Response> decode_response(std::span<const std::uint8_t> message);

}  // namespace xlb::check::dns
