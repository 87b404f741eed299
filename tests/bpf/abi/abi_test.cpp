// The ABI between the XDP program and xlbd: every map the kernel holds for the loaded object
// has the key and value sizes of the C++ structs, its BTF names those structs (so bpftool
// prints named fields), and the BTF field offsets equal offsetof() on the C++ side.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ctrl/dataplane/ring_codec.hpp"
#include "tests/bpf/support/harness.hpp"

namespace xlb::bpftest {
namespace {

struct MapAbi {
  std::size_t key_size;
  std::size_t value_size;
  std::string key_type;  // BTF name of the key type
  std::string value_type;
};

const std::map<std::string, MapAbi>& expected_maps() {
  static const std::map<std::string, MapAbi> maps{
      {"vips", {sizeof(xlb_vip_key), sizeof(xlb_vip_info), "xlb_vip_key", "xlb_vip_info"}},
      {"ring", {sizeof(__u32), sizeof(xlb_ring_entry), "__u32", "xlb_ring_entry"}},
      {"reals", {sizeof(__u32), sizeof(xlb_real), "__u32", "xlb_real"}},
      {"flows", {sizeof(xlb_flow_key), sizeof(xlb_flow), "xlb_flow_key", "xlb_flow"}},
      {"persist", {sizeof(xlb_persist_key), sizeof(xlb_persist), "xlb_persist_key", "xlb_persist"}},
      {"vip_stats", {sizeof(__u32), sizeof(xlb_traffic_stats), "__u32", "xlb_traffic_stats"}},
      {"real_stats", {sizeof(__u32), sizeof(xlb_traffic_stats), "__u32", "xlb_traffic_stats"}},
      {"counters", {sizeof(__u32), sizeof(__u64), "__u32", "__u64"}},
      {"rr_cursor", {sizeof(__u32), sizeof(xlb_cursor), "__u32", "xlb_cursor"}},
      {"settings", {sizeof(__u32), sizeof(xlb_settings), "__u32", "xlb_settings"}},
      // A global of its own section: no key type, the section's BTF as the value, whose one
      // variable is the struct (VipFilterIsTheOneVariableOfItsSection).
      {"vip_filter", {sizeof(__u32), sizeof(xlb_vip_filter), "", ".data.vip_filter"}},
      {"vip_state", {sizeof(__u32), sizeof(xlb_vip_state), "__u32", "xlb_vip_state"}},
      {"flow_cache", {sizeof(__u32), sizeof(xlb_flow_cache_entry), "__u32", "xlb_flow_cache_entry"}},
      {"if_macs", {sizeof(__u32), sizeof(xlb_if_mac), "__u32", "xlb_if_mac"}},
      {"capture", {sizeof(__u32), sizeof(xlb_capture_config), "", ".data.capture"}},
      {"capture_scratch", {sizeof(__u32), sizeof(xlb_capture_scratch), "__u32", "xlb_capture_scratch"}},
      {"capture_ring", {0, 0, "", ""}},  // a ring buffer: records of xlb_capture_record + frame
      // libbpf loads devmaps without BTF (the kernel accepts none for them): no names.
      {"tx_ports", {sizeof(__u32), sizeof(__u32), "", ""}},
      {"tunnels", {sizeof(__u32), sizeof(xlb_tunnel), "__u32", "xlb_tunnel"}},
      {"tunnel_hops", {sizeof(__u32), sizeof(xlb_tunnel_hop), "__u32", "xlb_tunnel_hop"}},
  };
  return maps;
}

struct StructAbi {
  std::size_t size;
  std::vector<std::pair<std::string, std::size_t>> fields;  // every field, in order
};

#define F(s, f) {#f, offsetof(s, f)}

const std::map<std::string, StructAbi>& expected_structs() {
  static const std::map<std::string, StructAbi> structs{
      {"xlb_vip_key",
       {sizeof(xlb_vip_key),
        {F(xlb_vip_key, addr), F(xlb_vip_key, port), F(xlb_vip_key, proto), F(xlb_vip_key, family)}}},
      {"xlb_vip_info",
       {sizeof(xlb_vip_info),
        {F(xlb_vip_info, vip_id), F(xlb_vip_info, flags), F(xlb_vip_info, sched), F(xlb_vip_info, ring_slot),
         F(xlb_vip_info, ring_len), F(xlb_vip_info, sorry_real), F(xlb_vip_info, persist_timeout),
         F(xlb_vip_info, persist_mask), F(xlb_vip_info, pad)}}},
      {"xlb_ring_entry", {sizeof(xlb_ring_entry), {F(xlb_ring_entry, real_id)}}},
      {"xlb_real",
       {sizeof(xlb_real),
        {F(xlb_real, dst_mac), F(xlb_real, src_mac), F(xlb_real, ifindex), F(xlb_real, flags), F(xlb_real, addr),
         F(xlb_real, family), F(xlb_real, pad)}}},
      {"xlb_flow_key",
       {sizeof(xlb_flow_key),
        {F(xlb_flow_key, src), F(xlb_flow_key, dst), F(xlb_flow_key, sport), F(xlb_flow_key, dport),
         F(xlb_flow_key, proto), F(xlb_flow_key, family), F(xlb_flow_key, pad)}}},
      {"xlb_flow",
       {sizeof(xlb_flow),
        {F(xlb_flow, real_id), F(xlb_flow, vip_id), F(xlb_flow, last_seen), F(xlb_flow, created),
         F(xlb_flow, client_state), F(xlb_flow, pad)}}},
      {"xlb_persist_key",
       {sizeof(xlb_persist_key),
        {F(xlb_persist_key, client), F(xlb_persist_key, vip_id), F(xlb_persist_key, family),
         F(xlb_persist_key, pad)}}},
      {"xlb_persist",
       {sizeof(xlb_persist), {F(xlb_persist, real_id), F(xlb_persist, pad), F(xlb_persist, last_seen)}}},
      {"xlb_traffic_stats",
       {sizeof(xlb_traffic_stats),
        {F(xlb_traffic_stats, packets), F(xlb_traffic_stats, bytes), F(xlb_traffic_stats, new_flows)}}},
      {"xlb_settings",
       {sizeof(xlb_settings),
        {F(xlb_settings, abi_version), F(xlb_settings, tcp_timeout), F(xlb_settings, udp_timeout),
         F(xlb_settings, ring_size), F(xlb_settings, max_vips), F(xlb_settings, max_reals),
         F(xlb_settings, max_flows)}}},
      {"xlb_cursor", {sizeof(xlb_cursor), {F(xlb_cursor, pos), F(xlb_cursor, pad)}}},
      {"xlb_vip_state", {sizeof(xlb_vip_state), {F(xlb_vip_state, flags), F(xlb_vip_state, incarnation)}}},
      {"xlb_flow_cache_entry",
       {sizeof(xlb_flow_cache_entry),
        {F(xlb_flow_cache_entry, key), F(xlb_flow_cache_entry, real_id), F(xlb_flow_cache_entry, vip_id),
         F(xlb_flow_cache_entry, incarnation), F(xlb_flow_cache_entry, real_tag), F(xlb_flow_cache_entry, filled),
         F(xlb_flow_cache_entry, cache_epoch), F(xlb_flow_cache_entry, pending_bytes), F(xlb_flow_cache_entry, pending_packets),
         F(xlb_flow_cache_entry, pending_counter), F(xlb_flow_cache_entry, dst_mac), F(xlb_flow_cache_entry, src_mac),
         F(xlb_flow_cache_entry, ifindex), F(xlb_flow_cache_entry, tunnel_mtu), F(xlb_flow_cache_entry, tunnel_hash)}}},
      {"xlb_tunnel",
       {sizeof(xlb_tunnel),
        {F(xlb_tunnel, src), F(xlb_tunnel, dst), F(xlb_tunnel, src_hash_mask), F(xlb_tunnel, gue_port),
         F(xlb_tunnel, type), F(xlb_tunnel, flags), F(xlb_tunnel, family), F(xlb_tunnel, pad), F(xlb_tunnel, ifindex)}}},
      {"xlb_tunnel_hop",
       {sizeof(xlb_tunnel_hop),
        {F(xlb_tunnel_hop, dst_mac), F(xlb_tunnel_hop, src_mac), F(xlb_tunnel_hop, ifindex), F(xlb_tunnel_hop, mtu),
         F(xlb_tunnel_hop, filled), F(xlb_tunnel_hop, cache_epoch), F(xlb_tunnel_hop, pad)}}},
      {"xlb_vip_filter",
       {sizeof(xlb_vip_filter), {F(xlb_vip_filter, enabled), F(xlb_vip_filter, cache_epoch), F(xlb_vip_filter, bits)}}},
      {"xlb_capture_config",
       {sizeof(xlb_capture_config),
        {F(xlb_capture_config, enabled), F(xlb_capture_config, verdicts), F(xlb_capture_config, expires_ns),
         F(xlb_capture_config, owner), F(xlb_capture_config, snaplen), F(xlb_capture_config, sample),
         F(xlb_capture_config, client), F(xlb_capture_config, client_mask), F(xlb_capture_config, vip),
         F(xlb_capture_config, real), F(xlb_capture_config, vip_port), F(xlb_capture_config, client_family),
         F(xlb_capture_config, vip_family), F(xlb_capture_config, real_family), F(xlb_capture_config, pad)}}},
      {"xlb_capture_record",
       {sizeof(xlb_capture_record),
        {F(xlb_capture_record, time_ns), F(xlb_capture_record, len), F(xlb_capture_record, caplen),
         F(xlb_capture_record, ingress_ifindex), F(xlb_capture_record, egress_ifindex), F(xlb_capture_record, vip_id),
         F(xlb_capture_record, real_id), F(xlb_capture_record, action), F(xlb_capture_record, reason),
         F(xlb_capture_record, path), F(xlb_capture_record, flags), F(xlb_capture_record, arrived_macs),
         F(xlb_capture_record, pad)}}},
      {"xlb_capture_counts",
       {sizeof(xlb_capture_counts),
        {F(xlb_capture_counts, recorded), F(xlb_capture_counts, filtered), F(xlb_capture_counts, sampled),
         F(xlb_capture_counts, lost)}}},
      {"xlb_capture_scratch",
       {sizeof(xlb_capture_scratch),
        {F(xlb_capture_scratch, reason), F(xlb_capture_scratch, path), F(xlb_capture_scratch, flags),
         F(xlb_capture_scratch, pad), F(xlb_capture_scratch, vip_id), F(xlb_capture_scratch, real_id),
         F(xlb_capture_scratch, tick), F(xlb_capture_scratch, pad2), F(xlb_capture_scratch, counts),
         F(xlb_capture_scratch, record), F(xlb_capture_scratch, data)}}},
  };
  return structs;
}

#undef F

class AbiTest : public ::testing::Test {
 protected:
  BpfFsMount fs_{"bpftest-abi"};
  Balancer lb_{fs_.path()};
};

std::string btf_name(const btf* b, __u32 type_id) {
  const btf_type* t = btf__type_by_id(b, type_id);
  return t ? btf__name_by_offset(b, t->name_off) : std::string("<no type>");
}

TEST_F(AbiTest, EveryLoadedMapHasTheSharedHeadersLayout) {
  const auto& expected = expected_maps();
  std::set<std::string> seen;
  bpf_object* obj = lb_.object();
  const btf* object_btf = bpf_object__btf(obj);
  ASSERT_NE(object_btf, nullptr) << "the object carries no BTF: bpftool could not print named fields";
  bpf_map* m = nullptr;
  bpf_object__for_each_map(m, obj) {
    const bool filter = m == lb_.vip_filter_map(), capture = m == lb_.capture_map();
    if (bpf_map__is_internal(m) && !filter && !capture) continue;  // .rodata: the ring_size knob, not ABI
    const std::string name = filter ? "vip_filter" : capture ? "capture" : bpf_map__name(m);
    SCOPED_TRACE("map " + name);
    const auto it = expected.find(name);
    ASSERT_NE(it, expected.end()) << "map not described by this test: add it to xlb_abi.h and here";
    seen.insert(name);
    // Ask the kernel, not libbpf's copy of the definition.
    bpf_map_info info{};
    __u32 len = sizeof(info);
    ASSERT_EQ(bpf_obj_get_info_by_fd(bpf_map__fd(m), &info, &len), 0);
    EXPECT_EQ(info.key_size, it->second.key_size);
    EXPECT_EQ(info.value_size, it->second.value_size);
    EXPECT_EQ(btf_name(object_btf, info.btf_key_type_id), it->second.key_type);
    EXPECT_EQ(btf_name(object_btf, info.btf_value_type_id), it->second.value_type);
    if (!it->second.key_type.empty()) {
      EXPECT_NE(info.btf_id, 0u) << "map loaded without BTF";
    }
  }
  EXPECT_EQ(seen.size(), expected.size()) << "the object lacks maps this test expects";
  EXPECT_EQ(bpf_map__max_entries(lb_.map("counters")), static_cast<__u32>(XLB_CTR_MAX));
}

TEST_F(AbiTest, BtfFieldOffsetsMatchTheCxxStructs) {
  const btf* b = bpf_object__btf(lb_.object());
  ASSERT_NE(b, nullptr);
  for (const auto& [name, abi] : expected_structs()) {
    SCOPED_TRACE("struct " + name);
    const __s32 id = btf__find_by_name_kind(b, name.c_str(), BTF_KIND_STRUCT);
    ASSERT_GT(id, 0) << "not in the object's BTF";
    const btf_type* t = btf__type_by_id(b, static_cast<__u32>(id));
    EXPECT_EQ(t->size, abi.size);
    const btf_member* members = btf_members(t);
    ASSERT_EQ(btf_vlen(t), abi.fields.size()) << "field count differs";
    for (std::size_t i = 0; i < abi.fields.size(); ++i) {
      EXPECT_EQ(btf__name_by_offset(b, members[i].name_off), abi.fields[i].first) << "field " << i;
      EXPECT_EQ(btf_member_bit_offset(t, static_cast<__u32>(i)), abi.fields[i].second * 8) << abi.fields[i].first;
      EXPECT_EQ(btf_member_bitfield_size(t, static_cast<__u32>(i)), 0u) << "bitfield " << abi.fields[i].first;
    }
  }
}

// The program reads vip_filter by address, so it is a global; bpftool still prints its fields by
// name as long as its section holds it alone, at offset 0, with the struct's BTF.
TEST_F(AbiTest, VipFilterIsTheOneVariableOfItsSection) {
  const btf* b = bpf_object__btf(lb_.object());
  ASSERT_NE(b, nullptr);
  const __s32 id = btf__find_by_name_kind(b, ".data.vip_filter", BTF_KIND_DATASEC);
  ASSERT_GT(id, 0) << "no section .data.vip_filter in the object's BTF";
  const btf_type* sec = btf__type_by_id(b, static_cast<__u32>(id));
  ASSERT_EQ(btf_vlen(sec), 1u);
  const btf_var_secinfo& var = btf_var_secinfos(sec)[0];
  EXPECT_EQ(var.offset, 0u);
  EXPECT_EQ(var.size, sizeof(xlb_vip_filter));
  const btf_type* v = btf__type_by_id(b, var.type);
  EXPECT_EQ(std::string(btf__name_by_offset(b, v->name_off)), "vip_filter");
  EXPECT_EQ(btf_name(b, v->type), "xlb_vip_filter");
  EXPECT_EQ(sec->size, sizeof(xlb_vip_filter));
  EXPECT_EQ(bpf_map__value_size(lb_.vip_filter_map()), sizeof(xlb_vip_filter));
}

// bpftool prints the packed ring as "real_id": [..] only if BTF keeps it an array of __u32.
TEST_F(AbiTest, RingEntryIsANamedArrayOfIdsPackedPerHalf) {
  static_assert(sizeof(xlb_ring_entry) == XLB_RING_IDS_PER_ENTRY * sizeof(__u32));
  static_assert(sizeof(xlb_ring_entry) % 8 == 0, "no padding added by the array map");
  const btf* b = bpf_object__btf(lb_.object());
  ASSERT_NE(b, nullptr);
  const __s32 id = btf__find_by_name_kind(b, "xlb_ring_entry", BTF_KIND_STRUCT);
  ASSERT_GT(id, 0);
  const btf_type* t = btf__type_by_id(b, static_cast<__u32>(id));
  ASSERT_EQ(btf_vlen(t), 1u);
  const btf_type* field = btf__type_by_id(b, btf_members(t)[0].type);
  ASSERT_TRUE(btf_is_array(field)) << "real_id is not an array in BTF";
  EXPECT_EQ(btf_array(field)->nelems, static_cast<__u32>(XLB_RING_IDS_PER_ENTRY));
  EXPECT_EQ(btf__resolve_size(b, btf_array(field)->type), 4);
  const dataplane::RingLayout layout(lb_.options().ring_size);
  EXPECT_EQ(bpf_map__max_entries(lb_.map("ring")), layout.map_entries(lb_.options().max_vips));
}

}  // namespace
}  // namespace xlb::bpftest
