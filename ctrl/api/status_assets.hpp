// The status page's files (status_page/), embedded in the binary at build time
// (cmake/embed_assets.cmake), so that the page needs nothing but xlbd: no CDN, no files on disk.
#pragma once

#include <span>
#include <string_view>

namespace xlb::api {

struct StaticAsset {
  std::string_view path;          // "/", "/status.js", ...
  std::string_view content_type;
  std::string_view body;
};

std::span<const StaticAsset> status_page_assets();

}  // namespace xlb::api
