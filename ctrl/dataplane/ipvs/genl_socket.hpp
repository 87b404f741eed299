// RAII owners for libnl objects and a request/response helper for one generic netlink family.
#pragma once

#include <functional>
#include <memory>
#include <string>

struct nl_sock;
struct nl_msg;
struct nlmsghdr;

namespace xlb::dataplane::ipvs {

struct NlSockDeleter {
  void operator()(nl_sock* s) const noexcept;
};
struct NlMsgDeleter {
  void operator()(nl_msg* m) const noexcept;
};
using NlSockPtr = std::unique_ptr<nl_sock, NlSockDeleter>;
using NlMsgPtr = std::unique_ptr<nl_msg, NlMsgDeleter>;

// Allocates a message; throws std::bad_alloc when libnl cannot.
NlMsgPtr make_msg();

// A connected generic netlink socket bound to one resolved family.
class GenlSocket {
 public:
  // Throws std::system_error when the family does not resolve (e.g. ip_vs not loaded).
  explicit GenlSocket(const std::string& family);

  int family_id() const { return family_id_; }

  // Sends the message and waits for the kernel's acknowledgement; on_reply sees every
  // data message (one for a GET, many for a dump). Returns 0 or the kernel's negative errno.
  int transact(nl_msg* msg, const std::function<void(nlmsghdr*)>& on_reply = {});

 private:
  NlSockPtr sock_;
  int family_id_ = -1;
};

// True when the generic netlink family resolves in the caller's network namespace.
bool genl_family_exists(const std::string& family);

}  // namespace xlb::dataplane::ipvs
