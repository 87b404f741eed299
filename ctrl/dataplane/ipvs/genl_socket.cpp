#include "ctrl/dataplane/ipvs/genl_socket.hpp"

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <cerrno>
#include <new>
#include <system_error>

namespace xlb::dataplane::ipvs {

void NlSockDeleter::operator()(nl_sock* s) const noexcept { nl_socket_free(s); }
void NlMsgDeleter::operator()(nl_msg* m) const noexcept { nlmsg_free(m); }

NlMsgPtr make_msg() {
  NlMsgPtr msg{nlmsg_alloc()};
  if (!msg) throw std::bad_alloc{};
  return msg;
}

namespace {

NlSockPtr connect_genl() {
  NlSockPtr sock{nl_socket_alloc()};
  if (!sock) throw std::bad_alloc{};
  if (int err = genl_connect(sock.get()); err < 0)
    throw std::system_error(ENOTCONN, std::generic_category(),
                            std::string("genl_connect: ") + nl_geterror(err));
  return sock;
}

// State for one request; libnl callbacks get a pointer to it.
struct Exchange {
  const std::function<void(nlmsghdr*)>* on_reply = nullptr;
  bool done = false;
  int error = 0;
};

int on_valid(nl_msg* msg, void* arg) {
  auto* ex = static_cast<Exchange*>(arg);
  if (ex->on_reply && *ex->on_reply) (*ex->on_reply)(nlmsg_hdr(msg));
  return NL_OK;
}

int on_finish(nl_msg*, void* arg) {
  static_cast<Exchange*>(arg)->done = true;
  return NL_STOP;
}

// libnl would translate the errno into its own NLE_ codes; callers want the kernel's errno
// (EEXIST, ESRCH, ...) to decide what to do.
int on_error(sockaddr_nl*, nlmsgerr* err, void* arg) {
  auto* ex = static_cast<Exchange*>(arg);
  ex->error = err->error;
  ex->done = true;
  return NL_STOP;
}

}  // namespace

GenlSocket::GenlSocket(const std::string& family) : sock_(connect_genl()) {
  family_id_ = genl_ctrl_resolve(sock_.get(), family.c_str());
  if (family_id_ < 0)
    throw std::system_error(ENOENT, std::generic_category(),
                            "generic netlink family " + family + " not found (" +
                                nl_geterror(family_id_) + ")");
}

int GenlSocket::transact(nl_msg* msg, const std::function<void(nlmsghdr*)>& on_reply) {
  std::unique_ptr<nl_cb, decltype(&nl_cb_put)> cb{nl_cb_alloc(NL_CB_DEFAULT), &nl_cb_put};
  if (!cb) throw std::bad_alloc{};
  Exchange ex;
  ex.on_reply = &on_reply;
  nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, on_valid, &ex);
  nl_cb_set(cb.get(), NL_CB_FINISH, NL_CB_CUSTOM, on_finish, &ex);
  nl_cb_set(cb.get(), NL_CB_ACK, NL_CB_CUSTOM, on_finish, &ex);
  nl_cb_err(cb.get(), NL_CB_CUSTOM, on_error, &ex);
  if (int err = nl_send_auto(sock_.get(), msg); err < 0) return -EIO;
  while (!ex.done) {
    int err = nl_recvmsgs(sock_.get(), cb.get());
    if (err < 0 && !ex.done) return ex.error ? ex.error : -EIO;
  }
  return ex.error;
}

bool genl_family_exists(const std::string& family) {
  try {
    NlSockPtr sock = connect_genl();
    return genl_ctrl_resolve(sock.get(), family.c_str()) >= 0;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace xlb::dataplane::ipvs
