#include "ctrl/dataplane/xdp_attachment.hpp"

#include <bpf/libbpf.h>
#include <net/if.h>
#include <xdp/libxdp.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace xlb::dataplane {

namespace {

std::string xdp_error(int err) {
  char buf[256] = {};
  libxdp_strerror(err, buf, sizeof(buf));
  return buf;
}

std::string if_name(int ifindex) {
  char buf[IF_NAMESIZE] = {};
  if (::if_indextoname(static_cast<unsigned>(ifindex), buf) == nullptr) return "ifindex " + std::to_string(ifindex);
  return buf;
}

xdp_attach_mode to_libxdp(XdpMode mode) { return mode == XdpMode::native ? XDP_MODE_NATIVE : XDP_MODE_SKB; }

// A program of the same name left attached by an xlbd that died without detaching: take its
// place (its maps are pinned, so flows carry over). Anything else attached is not ours.
bool detach_stale(int ifindex, const std::string& prog_name) {
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (libxdp_get_error(mp)) return false;
  bool detached = false;
  xdp_program* main = xdp_multiprog__main_prog(mp);
  if (xdp_multiprog__is_legacy(mp) && main && prog_name == xdp_program__name(main)) {
    detached = xdp_multiprog__detach(mp) == 0;
  }
  xdp_multiprog__close(mp);
  return detached;
}

}  // namespace

int interface_index(const std::string& name) {
  const unsigned idx = ::if_nametoindex(name.c_str());
  if (idx == 0) throw std::system_error(errno, std::generic_category(), "interface " + name);
  return static_cast<int>(idx);
}

XdpAttachment::XdpAttachment(bpf_object* obj, const std::string& prog_name, int ifindex, XdpAttachOptions options)
    : ifindex_(ifindex), mode_(options.mode), options_(options) {
  DECLARE_LIBXDP_OPTS(xdp_program_opts, opts, .obj = obj, .prog_name = prog_name.c_str());
  prog_ = xdp_program__create(&opts);
  if (const long err = libxdp_get_error(prog_); err) {
    prog_ = nullptr;
    throw std::runtime_error("libxdp: program " + prog_name + ": " + xdp_error(static_cast<int>(err)));
  }
  int err = xdp_program__attach(prog_, ifindex_, to_libxdp(mode_), 0);
  if ((err == -EBUSY || err == -EEXIST) && detach_stale(ifindex_, prog_name)) {
    err = xdp_program__attach(prog_, ifindex_, to_libxdp(mode_), 0);
  }
  if (err && mode_ == XdpMode::native && options_.allow_generic_fallback) {
    fallback_reason_ = xdp_error(err);
    mode_ = XdpMode::generic;
    err = xdp_program__attach(prog_, ifindex_, to_libxdp(mode_), 0);
  }
  if (err) {
    const std::string why = xdp_error(err);
    xdp_program__close(prog_);
    prog_ = nullptr;
    throw std::runtime_error("attaching XDP program " + prog_name + " to " + if_name(ifindex_) + " in " +
                             (mode_ == XdpMode::native ? "native" : "generic") + " mode: " + why +
                             (fallback_reason_.empty() ? "" : " (native mode: " + fallback_reason_ + ")"));
  }
  attached_ = true;
}

XdpAttachment::~XdpAttachment() {
  if (options_.detach_on_destroy) detach();
  if (prog_) xdp_program__close(prog_);
}

void XdpAttachment::detach() {
  if (!attached_) return;
  attached_ = false;
  // Failing to detach on the way out (interface already gone with its namespace) leaves
  // nothing behind, so it is not an error worth throwing from a destructor.
  xdp_program__detach(prog_, ifindex_, to_libxdp(mode_), 0);
}

}  // namespace xlb::dataplane
