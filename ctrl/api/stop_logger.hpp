// Completion handler for a server's accept loop: closing the acceptor on shutdown ends the
// loop with operation_aborted, which is not an error; anything else is logged.
#pragma once

#include <exception>
#include <string>

#include <boost/system/system_error.hpp>
#include <spdlog/spdlog.h>

#include "xlb/asio.hpp"

namespace xlb::api {

inline auto log_unexpected_stop(std::string what) {
  return [what = std::move(what)](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const boost::system::system_error& ex) {
      if (ex.code() != boost::asio::error::operation_aborted) spdlog::error("{} stopped: {}", what, ex.what());
    } catch (const std::exception& ex) {
      spdlog::error("{} stopped: {}", what, ex.what());
    }
  };
}

}  // namespace xlb::api
