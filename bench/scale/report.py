#!/usr/bin/env python3
"""Assembles bench/scale's parts into one JSON document and prints the table.
usage: report.py STATE_DIR OUT_JSON COMMIT "LOAD_BEFORE" "LOAD_AFTER" """
import datetime
import json
import os
import platform
import sys

state, out, commit, load_before, load_after = sys.argv[1:6]


def part(name):
    with open(os.path.join(state, name + ".json")) as f:
        return json.load(f)


def mib(n):
    return "%.1f" % (n / 1048576.0)


packet = part("packet")
tables = {sc: part("tables-" + sc) for sc in ("flows", "vips", "reals")}
xlbd = {name: part("xlbd-" + name) for name in ("reals", "vips-fit", "vips-full", "flows")}

print()
print("ns/packet (BPF_PROG_TEST_RUN, CPU %d), table of %d entries: 1 flow vs full (%d flows)"
      % (packet["cpu"], packet["table_max_entries"], packet["full"]["flows_in_table"]))
rows = [("established, same flow (repeat=%d)" % packet["repeat"], "established_same_flow_repeat"),
        ("established, a different flow each packet", "established_per_packet"),
        ("new flow (SYN), repeat=1", "new_flow")]
print("%-44s %10s %10s %7s %s" % ("case", "1 flow", "full", "ratio", "target <= 1.3x"))
for label, key in rows:
    one, full = packet["one_flow"][key + "_ns"], packet["full"][key + "_ns"]
    r = packet["ratio_full_to_one"][key]
    print("%-44s %10.1f %10.1f %6.2fx %s" % (label, one, full, r, "met" if r <= 1.3 else "MISSED"))
d = packet["distinct_flows_only"]
print("%-44s %10.1f %10.1f %6.2fx (table holding only the %d flows the packets go to, vs full)"
      % ("established, different flow, small table", d["established_per_packet_ns"],
         packet["full"]["established_per_packet_ns"], packet["ratio_full_to_one"]["established_per_packet_vs_distinct_only"],
         d["flows_in_table"]))
print("(repeat=1 rows: fixed cost of one call, %.1f ns, subtracted; 1-flow established = that flow's frame "
      "each call; full = a random one of the table's flows each call)" % packet["fixed_call_ns"])
t = packet.get("table_baseline")
if t:  # runs before the table baseline existed have none
    print("table baseline (the minimal program plus a lookup in a table of the same size), established, a different "
          "flow each packet: 1 flow %.1f ns, only the %d flows %.1f ns, full (%d flows) %.1f ns: %.2fx / %.2fx"
          % (t["one_flow_per_packet_ns"], d["flows_in_table"], t["distinct_flows_only_per_packet_ns"],
             t["flows_in_full_table"], t["full_per_packet_ns"], t["ratio_full_to_one"],
             t["ratio_full_to_distinct_only"]))
m = packet["memory_floor"]
print("memory floor: one dependent load at a random place in %s MiB (the flows map) costs %.1f ns with 4 KiB pages, "
      "%.1f ns with 2 MiB pages%s; a different flow each packet costs %.1f ns more than one flow (%.1f such loads), "
      "1.3x allows %.1f ns"
      % (mib(m["bytes"]), m["ns_per_access_small_pages"], m["ns_per_access_huge_pages"],
         "" if m["huge_pages_granted"] else " (not granted: small pages again)", m["full_extra_ns"],
         m["full_extra_in_accesses"], m["extra_ns_the_target_allows"]))

print()
print("XdpBackend, maps sized for the scenario (memory = the kernel's memlock of every map)")
print("%-28s %9s %10s %11s %10s %11s %9s" % ("scenario", "services", "reals", "maps MiB", "load ms", "apply ms",
                                           "weight ms"))
labels = {"flows": "%d flows (1 VIP, 16 reals)" % tables["flows"]["flows"]["in_table"], "vips": "", "reals": ""}
for sc, t in tables.items():
    label = labels[sc]
    if sc == "vips":
        label = "%d VIPs x %d reals" % (t["services"], t["reals_total"] // max(t["services"], 1))
    if sc == "reals":
        label = "%d reals on one VIP" % t["reals_total"]
    print("%-28s %9d %10d %11s %10.1f %11.1f %9.2f" % (label, t["services"], t["reals_total"],
                                                       mib(t["memory"]["total_memlock_bytes"]), t["load_attach_ms"],
                                                       t["apply_all_ms"], t["weight_change_median_ms"]))
f = tables["flows"]["flows"]
print("flows: %d inserted in %.2f s, %d in the table, XdpBackend::flows() lists them in %.0f ms"
      % (f["inserted"], f["fill_seconds"], f["in_table"], f["list_all_ms"]))
c = tables["flows"].get("census")
if c:
    print("flow census of %d flows (%d active pairs), median walk and peak RSS growth: count_flows %.0f ms +%.1f MiB; "
          "flows() then counted %.0f ms +%.1f MiB; bare batch reads %.0f ms"
          % (c["flows"], c["active_pairs"], c["count_flows"]["walk_median_ms"],
             c["count_flows"]["peak_rss_growth_kib"] / 1024, c["via_flows_objects"]["walk_median_ms"],
             c["via_flows_objects"]["peak_rss_growth_kib"] / 1024, c["bare_batch_walk"]["walk_median_ms"]))
big = max(tables.values(), key=lambda t: t["memory"]["total_memlock_bytes"])
top = sorted(big["memory"]["maps"].items(), key=lambda kv: -kv[1]["memlock_bytes"])[:4]
print("largest maps (%s): %s" % (big["scenario"], ", ".join("%s %s MiB" % (k, mib(v["memlock_bytes"])) for k, v in top)))

print()
print("xlbd (tables sized by the xdp_* keywords), best of the rounds. start = exec until `status` answers, filled = until the vips map")
print("holds every service; weight (control request, as xlbctl sends it), xlbctl (the process) and reload = until the")
print("vips map points at the rebuilt ring")
print("%-28s %9s %9s %11s %10s %10s %11s %11s %9s" % ("configuration", "services", "reals", "maps MiB", "start ms",
                                                     "filled ms", "weight ms", "xlbctl ms", "reload ms"))
for name, x in xlbd.items():
    label = {"reals": "%d reals on one VIP", "vips-fit": "%d VIPs x 16 reals", "vips-full": "%d VIPs x 16 reals",
             "flows": "flow table full (%d VIP)"}[name] % (x["reals_total"] if name == "reals" else x["services"])
    if "error" in x:
        answered = x.get("start_to_status_ms")
        print("%-28s %9d %9d  %s%s" % (label, x["services"], x["reals_total"], x["error"],
                                       " (status answered after %.0f ms)" % answered[0] if answered else ""))
        for line in x.get("log_excerpt", "").strip().splitlines()[:2]:
            print("%-28s %9s %9s    xlbd: %s" % ("", "", "", line[:110]))
        continue
    print("%-28s %9d %9d %11s %10.0f %10.0f %11.2f %11.2f %9.1f" % (
        label, x["services"], x["reals_total"], mib(x["memory"]["total_memlock_bytes"]), x["start_ms_best"],
        min(x["start_to_maps_filled_ms"]), x["weight_command"]["maps_ms_best"],
        x.get("xlbctl_weight", {}).get("maps_ms_best", float("nan")), x["reload_one_weight"]["maps_ms_best"]))
ft = xlbd["flows"].get("full_table")
if ft:
    print("xlbd restart over a full flow table (%d of %d requested, capacity %d): status after %.0f ms, %d flows kept; "
          "`flows` command %.0f ms (%d bytes); weight change %.2f ms"
          % (ft["flows_inserted"], ft["flows_requested"], ft["flows_capacity"], ft["restart_to_status_ms"],
             ft["flows_after_restart"], ft["flows_command_ms"], ft["flows_command_reply_bytes"],
             ft["weight_command_maps_ms"]))

doc = {
    "benchmark": "scale",
    "commit": commit,
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "kernel": platform.release(),
    "cpus_online": os.cpu_count(),
    "load_average": {"before": [float(x) for x in load_before.split()], "after": [float(x) for x in load_after.split()]},
    "packet": packet,
    "tables": tables,
    "xlbd": xlbd,
}
with open(out, "w") as fh:
    json.dump(doc, fh, indent=2)
    fh.write("\n")
print("wrote", out)
