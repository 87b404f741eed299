// Attaches a loaded XDP program to one interface through libxdp (so it can share the
// interface with other XDP programs where libxdp's dispatcher works) and detaches it again
// when destroyed, unless told to leave it running (a restart that keeps forwarding). A
// program of the same name that a previous xlbd left attached is adopted or replaced in place.
#pragma once

#include <string>

struct bpf_object;
struct xdp_program;

namespace xlb::dataplane {

enum class XdpMode { native, generic };

// What became of a program of the same name that a previous xlbd left attached.
enum class XdpTakeover {
  none,      // there was none: attached through libxdp
  adopted,   // the same code: kept running as it was
  replaced,  // other code (an upgrade): swapped for ours in one step
};

struct XdpAttachOptions {
  XdpMode mode = XdpMode::native;
  // Native mode failing (a driver without XDP support) falls back to generic mode when
  // allowed; the mode actually used is reported by mode().
  bool allow_generic_fallback = false;
  bool detach_on_destroy = true;
};

class XdpAttachment {
 public:
  // prog_name: the SEC("xdp") function inside obj. Throws with libxdp's message on failure.
  XdpAttachment(bpf_object* obj, const std::string& prog_name, int ifindex, XdpAttachOptions options = {});
  ~XdpAttachment();
  XdpAttachment(const XdpAttachment&) = delete;
  XdpAttachment& operator=(const XdpAttachment&) = delete;

  int ifindex() const { return ifindex_; }
  XdpMode mode() const { return mode_; }
  // Empty unless native mode failed and generic mode was used instead: why native failed.
  const std::string& fallback_reason() const { return fallback_reason_; }
  XdpTakeover takeover() const { return takeover_; }
  void detach();
  void set_detach_on_destroy(bool detach) { options_.detach_on_destroy = detach; }

 private:
  bool take_over_stale(bpf_object* obj, const std::string& prog_name);
  bool attach_alone(bpf_object* obj, const std::string& prog_name, int libxdp_err);
  void say_how(const std::string& prog_name) const;

  xdp_program* prog_ = nullptr;   // attached through libxdp
  int raw_fd_ = -1;               // attached without libxdp: adopted or swapped in by us
  int adopted_fd_ = -1;           // owned: the adopted program (ours belongs to the bpf_object)
  XdpTakeover takeover_ = XdpTakeover::none;
  int ifindex_ = 0;
  XdpMode mode_ = XdpMode::native;
  XdpAttachOptions options_;
  bool attached_ = false;
  std::string fallback_reason_;
};

int interface_index(const std::string& name);  // throws when there is no such interface

}  // namespace xlb::dataplane
