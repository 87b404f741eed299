#include "tools/xlbctl/pcapng.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

namespace xlb::ctl {

namespace {

// Block types and option codes of draft-ietf-opsawg-pcapng.
constexpr std::uint32_t kSectionHeader = 0x0A0D0D0A;
constexpr std::uint32_t kInterfaceDescription = 0x00000001;
constexpr std::uint32_t kEnhancedPacket = 0x00000006;
constexpr std::uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr std::uint16_t kOptEnd = 0;
constexpr std::uint16_t kOptComment = 1;
constexpr std::uint16_t kShbUserApplication = 4;
constexpr std::uint16_t kIfName = 2;
constexpr std::uint16_t kIfDescription = 3;
constexpr std::uint16_t kIfTimestampResolution = 9;
constexpr std::uint16_t kLinkTypeEthernet = 1;

// One block being assembled: the body, then the framing (type, total length twice).
class Block {
 public:
  void u16(std::uint16_t v) { raw(&v, sizeof(v)); }
  void u32(std::uint32_t v) { raw(&v, sizeof(v)); }
  void u64(std::uint64_t v) { raw(&v, sizeof(v)); }
  void bytes(const void* data, std::size_t size) {
    raw(data, size);
    pad();
  }
  void option(std::uint16_t code, const void* value, std::size_t size) {
    if (size > 0xffff) size = 0xffff;
    u16(code);
    u16(static_cast<std::uint16_t>(size));
    bytes(value, size);
  }
  void option(std::uint16_t code, const std::string& text) { option(code, text.data(), text.size()); }
  void end_options() {
    u16(kOptEnd);
    u16(0);
  }
  void write(std::ostream& out, std::uint32_t type) const {
    const auto total = static_cast<std::uint32_t>(body_.size() + 12);
    out.write(reinterpret_cast<const char*>(&type), 4);
    out.write(reinterpret_cast<const char*>(&total), 4);
    out.write(body_.data(), static_cast<std::streamsize>(body_.size()));
    out.write(reinterpret_cast<const char*>(&total), 4);
  }

 private:
  void raw(const void* data, std::size_t size) { body_.append(static_cast<const char*>(data), size); }
  void pad() { body_.append((4 - body_.size() % 4) % 4, '\0'); }
  std::string body_;
};

}  // namespace

PcapngWriter::PcapngWriter(std::ostream& out, const std::string& application) : out_(out) {
  Block shb;
  shb.u32(kByteOrderMagic);
  shb.u16(1);  // major version
  shb.u16(0);  // minor version
  shb.u64(~0ull);  // section length: not known in advance
  shb.option(kShbUserApplication, application);
  shb.end_options();
  shb.write(out_, kSectionHeader);
  out_.flush();
}

std::uint32_t PcapngWriter::add_interface(const std::string& name, const std::string& description,
                                          std::uint32_t snaplen) {
  Block idb;
  idb.u16(kLinkTypeEthernet);
  idb.u16(0);  // reserved
  idb.u32(snaplen);
  idb.option(kIfName, name);
  idb.option(kIfDescription, description);
  const std::uint8_t nanoseconds = 9;  // 10^-9
  idb.option(kIfTimestampResolution, &nanoseconds, 1);
  idb.end_options();
  idb.write(out_, kInterfaceDescription);
  out_.flush();
  return interfaces_++;
}

void PcapngWriter::packet(std::uint32_t interface, std::uint64_t time_ns, std::span<const std::uint8_t> data,
                          std::uint32_t original_length, const std::string& comment) {
  if (interface >= interfaces_) throw std::logic_error("pcapng: packet on an interface not described");
  Block epb;
  epb.u32(interface);
  epb.u32(static_cast<std::uint32_t>(time_ns >> 32));
  epb.u32(static_cast<std::uint32_t>(time_ns));
  epb.u32(static_cast<std::uint32_t>(data.size()));
  epb.u32(original_length);
  epb.bytes(data.data(), data.size());
  if (!comment.empty()) epb.option(kOptComment, comment);
  epb.end_options();
  epb.write(out_, kEnhancedPacket);
  out_.flush();
}

}  // namespace xlb::ctl
