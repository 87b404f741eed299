// RAII owners for the libbpf objects xlb-pktgen holds.
#pragma once

#include <bpf/libbpf.h>

#include <memory>

#include "xlb/pktgen.skel.h"

namespace xlb::pktgen {

struct SkeletonDeleter {
  void operator()(xlb_pktgen* skeleton) const { xlb_pktgen__destroy(skeleton); }
};
using SkeletonPtr = std::unique_ptr<xlb_pktgen, SkeletonDeleter>;

// An XDP attachment through a bpf_link: it goes away with the process, even on SIGKILL, so a
// crashed generator never leaves its sink on an interface.
struct LinkDeleter {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
using LinkPtr = std::unique_ptr<bpf_link, LinkDeleter>;

}  // namespace xlb::pktgen
