// What a page or API handler of the metrics listener answers: the listener adds the HTTP framing.
#pragma once

#include <string>

namespace xlb::api {

struct HttpReply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

}  // namespace xlb::api
