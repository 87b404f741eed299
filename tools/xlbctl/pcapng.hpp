// A pcapng writer (the format tcpdump, tshark and Wireshark read): a section header, one
// interface description per capture point, and enhanced packet blocks whose comment carries
// xlb's verdict in words. Blocks go out whole, in host byte order (the section header's magic
// says which), and the stream is flushed after each packet so that `-w - | tshark -r -` sees
// packets as they come.
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <string>

namespace xlb::ctl {

class PcapngWriter {
 public:
  // Writes the section header block at once.
  explicit PcapngWriter(std::ostream& out, const std::string& application = "xlbctl");
  // An Ethernet interface with nanosecond timestamps; returns its id for packet().
  std::uint32_t add_interface(const std::string& name, const std::string& description, std::uint32_t snaplen);
  // time_ns: since the Unix epoch. `data` is what was copied, `original_length` the frame's length.
  void packet(std::uint32_t interface, std::uint64_t time_ns, std::span<const std::uint8_t> data,
              std::uint32_t original_length, const std::string& comment);

 private:
  std::ostream& out_;
  std::uint32_t interfaces_ = 0;
};

}  // namespace xlb::ctl
