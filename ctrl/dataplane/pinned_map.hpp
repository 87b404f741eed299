// One map opened from its pin by path, for readers outside the program that owns it: xlbctl
// while xlbd is down, the metrics page, benchmarks. It owns (and closes) its fd.
#pragma once

#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "ctrl/dataplane/bpf_map.hpp"

namespace xlb::dataplane {

class PinnedMap {
 public:
  explicit PinnedMap(const std::filesystem::path& path)
      : path_(path), fd_(bpf_obj_get(path.c_str())), error_(fd_ < 0 ? errno : 0) {}
  ~PinnedMap() {
    if (fd_ >= 0) ::close(fd_);
  }
  PinnedMap(const PinnedMap&) = delete;
  PinnedMap& operator=(const PinnedMap&) = delete;

  bool ok() const { return fd_ >= 0; }
  explicit operator bool() const { return ok(); }
  int fd() const { return fd_; }
  // The fd, or an exception naming the pin and why it could not be opened.
  int required_fd() const {
    if (fd_ < 0) throw std::runtime_error("cannot open pinned map " + path_.string() + ": " + std::strerror(error_));
    return fd_;
  }
  // The kernel's description (key and value sizes, max_entries, ...); zeroed when unreadable.
  bpf_map_info info() const {
    bpf_map_info info{};
    std::uint32_t len = sizeof(info);
    if (fd_ < 0 || bpf_obj_get_info_by_fd(fd_, &info, &len) != 0) return bpf_map_info{};
    return info;
  }
  // Entries of a hash map whose layout the caller knows, read in batches (a syscall per
  // thousand entries); throws when the map's sizes are not K and V. 0 when the pin is absent.
  template <class K, class V>
  std::uint64_t count_entries() const {
    return fd_ < 0 ? 0 : BpfMap(fd_).count<K, V>();
  }

 private:
  std::filesystem::path path_;
  int fd_;
  int error_;
};

}  // namespace xlb::dataplane
