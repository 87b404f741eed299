// Virtual addresses owned while MASTER, added and removed through libnl-route.
#pragma once
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "ctrl/vrrp/settings.hpp"

struct nl_sock;
struct nl_addr;

namespace xlb::vrrp {

struct NlAddrDeleter {
  void operator()(nl_addr* a) const;
};
using NlAddress = std::unique_ptr<nl_addr, NlAddrDeleter>;
// A libnl address of `a`, with a host's prefix length (32 or 128); null when out of memory.
NlAddress to_nl(const Address& a);

// One rtnetlink socket (RAII).
class RouteSocket {
 public:
  RouteSocket();
  ~RouteSocket();
  RouteSocket(const RouteSocket&) = delete;
  RouteSocket& operator=(const RouteSocket&) = delete;
  nl_sock* get() const { return sock_; }

 private:
  nl_sock* sock_ = nullptr;
};

// The set of VIPs of one instance. install() adds them all, release() removes what it added;
// the destructor releases, so a VIP never outlives the instance that owns it.
class VipSet {
 public:
  VipSet(std::vector<VipSettings> vips, std::string default_dev);
  ~VipSet();
  VipSet(const VipSet&) = delete;
  VipSet& operator=(const VipSet&) = delete;

  // Returns the first error; the other addresses are still attempted.
  std::error_code install();
  std::error_code release();
  bool installed() const { return installed_; }
  const std::vector<VipSettings>& vips() const { return vips_; }
  std::string device_of(const VipSettings& v) const { return v.dev.empty() ? dev_ : v.dev; }

 private:
  std::error_code change(const VipSettings& v, bool add);

  std::vector<VipSettings> vips_;
  std::string dev_;
  RouteSocket sock_;
  bool installed_ = false;
};

}  // namespace xlb::vrrp
