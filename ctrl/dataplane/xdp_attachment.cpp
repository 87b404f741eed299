#include "ctrl/dataplane/xdp_attachment.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <unistd.h>
#include <net/if.h>
#include <xdp/libxdp.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <system_error>

#include <spdlog/spdlog.h>

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

std::uint32_t mode_flag(XdpMode mode) { return mode == XdpMode::native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE; }

// The name the kernel keeps for a program (BPF_OBJ_NAME_LEN bytes including the NUL).
std::string kernel_name(const std::string& name) { return name.substr(0, BPF_OBJ_NAME_LEN - 1); }

// The program directly attached to the interface (not through libxdp's dispatcher) when it is
// named prog_name, with the mode it was attached in.
struct StaleProgram {
  int fd = -1;
  XdpMode mode = XdpMode::native;
  std::array<unsigned char, BPF_TAG_SIZE> tag{};  // hash of the instructions, map references left out
};

bool same_code(int fd, const StaleProgram& stale) {
  bpf_prog_info info = {};
  std::uint32_t len = sizeof(info);
  return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && std::memcmp(info.tag, stale.tag.data(), BPF_TAG_SIZE) == 0;
}

std::optional<StaleProgram> find_stale(int ifindex, const std::string& prog_name) {
  LIBBPF_OPTS(bpf_xdp_query_opts, query);
  if (bpf_xdp_query(ifindex, 0, &query) != 0) return std::nullopt;
  StaleProgram stale;
  std::uint32_t id = 0;
  if (query.attach_mode == XDP_ATTACHED_DRV || (query.attach_mode == XDP_ATTACHED_MULTI && query.drv_prog_id)) {
    id = query.drv_prog_id;
  } else if (query.attach_mode == XDP_ATTACHED_SKB) {
    id = query.skb_prog_id;
    stale.mode = XdpMode::generic;
  }
  if (id == 0) return std::nullopt;
  stale.fd = bpf_prog_get_fd_by_id(id);
  if (stale.fd < 0) return std::nullopt;
  bpf_prog_info info = {};
  std::uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(stale.fd, &info, &len) != 0 || kernel_name(prog_name) != info.name) {
    ::close(stale.fd);
    return std::nullopt;
  }
  std::memcpy(stale.tag.data(), info.tag, BPF_TAG_SIZE);
  return stale;
}

}  // namespace

int interface_index(const std::string& name) {
  const unsigned idx = ::if_nametoindex(name.c_str());
  if (idx == 0) throw std::system_error(errno, std::generic_category(), "interface " + name);
  return static_cast<int>(idx);
}

XdpAttachment::XdpAttachment(bpf_object* obj, const std::string& prog_name, int ifindex, XdpAttachOptions options)
    : ifindex_(ifindex), mode_(options.mode), options_(options) {
  if (take_over_stale(obj, prog_name)) return;
  DECLARE_LIBXDP_OPTS(xdp_program_opts, opts, .obj = obj, .prog_name = prog_name.c_str());
  prog_ = xdp_program__create(&opts);
  if (const long err = libxdp_get_error(prog_); err) {
    prog_ = nullptr;
    throw std::runtime_error("libxdp: program " + prog_name + ": " + xdp_error(static_cast<int>(err)));
  }
  // A stale program of our name was taken over above; whatever else is attached is not ours
  // to remove, and libxdp's error says what it is.
  int err = xdp_program__attach(prog_, ifindex_, to_libxdp(mode_), 0);
  if (err && attach_alone(obj, prog_name, err)) return;
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
  say_how(prog_name);
}

// Where libxdp's multi-program dispatcher loads (Debian's 6.1 kernel, for one), libxdp attaches
// our program as its extension, and the kernel refused that for xlb_balancer (EINVAL; checked in
// the VM lab). Attaching the program alone is what every restart and takeover here assumes
// anyway (find_stale looks for our program on the interface, not for a dispatcher), so it is
// tried once, in the same mode, before the generic fallback; only where nothing is attached yet.
bool XdpAttachment::attach_alone(bpf_object* obj, const std::string& prog_name, int libxdp_err) {
  bpf_program* prog = bpf_object__find_program_by_name(obj, prog_name.c_str());
  const int fd = prog ? bpf_program__fd(prog) : -1;
  if (fd < 0 || bpf_xdp_attach(ifindex_, fd, mode_flag(mode_) | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr) != 0)
    return false;
  spdlog::warn("XDP program {} on {}: libxdp could not attach it ({}); attached it alone instead", prog_name,
               if_name(ifindex_), xdp_error(libxdp_err));
  raw_fd_ = fd;
  attached_ = true;
  say_how(prog_name);
  return true;
}

// Once, in xlbd's words, what libxdp's messages (now at debug level) used to imply.
void XdpAttachment::say_how(const std::string& prog_name) const {
  std::string how = mode_ == XdpMode::native ? "native mode" : "generic (skb) mode";
  if (!fallback_reason_.empty()) how += " (native mode refused: " + fallback_reason_ + ")";
  if (xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex_); libxdp_get_error(mp) == 0 && mp) {
    how += xdp_multiprog__is_legacy(mp) ? ", attached alone: libxdp's multi-program dispatcher does not load on this "
                                          "kernel or this host's privileges (xlbd -D shows why)"
                                        : ", through libxdp's multi-program dispatcher";
    xdp_multiprog__close(mp);
  }
  spdlog::info("XDP program {} on {}: {}", prog_name, if_name(ifindex_), how);
}

// Detaching the stale program and then attaching ours would leave a gap in which the kernel
// meets packets of established flows and resets them. The same code on the same pinned maps is
// simply kept; other code (an upgrade) is swapped in with XDP_FLAGS_REPLACE in one step, in the
// mode the old program ran in.
bool XdpAttachment::take_over_stale(bpf_object* obj, const std::string& prog_name) {
  auto stale = find_stale(ifindex_, prog_name);
  if (!stale) return false;
  bpf_program* prog = bpf_object__find_program_by_name(obj, prog_name.c_str());
  const int fd = prog ? bpf_program__fd(prog) : -1;
  if (fd >= 0 && same_code(fd, *stale)) {
    adopted_fd_ = stale->fd;
    raw_fd_ = stale->fd;
    takeover_ = XdpTakeover::adopted;
  } else {
    int err = -ENOENT;
    if (fd >= 0) {
      LIBBPF_OPTS(bpf_xdp_attach_opts, replace, .old_prog_fd = stale->fd);
      err = bpf_xdp_attach(ifindex_, fd, mode_flag(stale->mode) | XDP_FLAGS_REPLACE, &replace);
    }
    ::close(stale->fd);
    if (err) return false;  // raced with someone else's change: the plain path decides
    raw_fd_ = fd;
    takeover_ = XdpTakeover::replaced;
  }
  mode_ = stale->mode;
  attached_ = true;
  return true;
}

XdpAttachment::~XdpAttachment() {
  if (options_.detach_on_destroy) detach();
  if (prog_) xdp_program__close(prog_);
  if (adopted_fd_ >= 0) ::close(adopted_fd_);
}

void XdpAttachment::detach() {
  if (!attached_) return;
  attached_ = false;
  if (raw_fd_ >= 0) {
    // Only if the program there is still ours: another may have replaced it since.
    LIBBPF_OPTS(bpf_xdp_attach_opts, expected, .old_prog_fd = raw_fd_);
    bpf_xdp_detach(ifindex_, mode_flag(mode_) | XDP_FLAGS_REPLACE, &expected);
    return;
  }
  // Failing to detach on the way out (interface already gone with its namespace) leaves
  // nothing behind, so it is not an error worth throwing from a destructor.
  xdp_program__detach(prog_, ifindex_, to_libxdp(mode_), 0);
}

}  // namespace xlb::dataplane
