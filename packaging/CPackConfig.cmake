# The xlb .deb: `cpack -G DEB` in the build directory (after building xlbd, xlbctl and
# xlb-pktgen). Included at the end of the top-level CMakeLists.txt.
set(XLB_PKG_DIR ${CMAKE_SOURCE_DIR}/packaging)

if(TARGET xlb-pktgen)
  install(TARGETS xlb-pktgen RUNTIME DESTINATION bin)
endif()
# Debian 12 keeps units in /lib/systemd/system (the same directory on a merged-/usr system).
install(FILES ${XLB_PKG_DIR}/xlbd.service DESTINATION /lib/systemd/system)
# /etc is outside CMAKE_INSTALL_PREFIX (/usr): an absolute destination, listed as a conffile.
# Its own component: tools/install.sh (make install) writes it only where none exists yet.
install(FILES ${XLB_PKG_DIR}/xlb.conf DESTINATION /etc/xlb COMPONENT example_config)
# The name of xlb's route protocol number for ip(8) (iproute2 reads rt_protos.d/*.conf).
install(FILES ${XLB_PKG_DIR}/rt_protos.d/xlb.conf DESTINATION /etc/iproute2/rt_protos.d)
# BIRD 2 on a node announcing the VIPs by BGP (docs/scale-out.md): an example to copy, not a
# conffile; the operator's BIRD configuration is bird2's.
install(FILES ${XLB_PKG_DIR}/bird/bird.conf DESTINATION share/doc/xlb/examples)
# The Grafana dashboard (to import; xlbd's /dashboard embeds this same file) and the Prometheus
# alerting rules (for rule_files), docs/api.md.
install(FILES ${XLB_PKG_DIR}/grafana/xlb-dashboard.json DESTINATION share/xlb/grafana)
install(FILES ${XLB_PKG_DIR}/prometheus/xlb-alerts.yml DESTINATION share/xlb/prometheus)

# Man pages, compressed as Debian policy asks (gzip -n: no name or time stamp, reproducible).
set(xlb_man_outputs)
foreach(page xlbd.8 xlbctl.8 xlb.conf.5)
  string(REGEX REPLACE "^.*\\.([0-9])$" "\\1" section ${page})
  set(out ${CMAKE_BINARY_DIR}/man/${page}.gz)
  add_custom_command(OUTPUT ${out}
                     COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
                     COMMAND gzip -9n -c ${CMAKE_SOURCE_DIR}/docs/man/${page} > ${out}
                     DEPENDS ${CMAKE_SOURCE_DIR}/docs/man/${page} VERBATIM)
  install(FILES ${out} DESTINATION share/man/man${section})
  list(APPEND xlb_man_outputs ${out})
endforeach()
add_custom_target(xlb_manpages ALL DEPENDS ${xlb_man_outputs})

# cpack would otherwise build every target (tests, benches) first; the package needs only
# xlbd, xlbctl, xlb-pktgen and the man pages, built beforehand.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME xlb)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "xlb maintainers <xlb@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "keepalived-compatible layer-4 load balancer with an XDP forwarding path")
set(CPACK_PACKAGE_DESCRIPTION
    "xlbd reads a keepalived-dialect configuration, runs VRRP and health checks, and forwards\n\
virtual services in DR mode with an XDP program (or kernel IPVS). xlbctl inspects and steers\n\
a running xlbd; xlb-pktgen generates live test traffic.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE amd64)
# The shared libraries xlbd/xlbctl/xlb-pktgen link (checked with ldd on Debian 12).
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6, libstdc++6, libbpf1, libxdp1, libelf1, zlib1g, libnl-3-200, libnl-route-3-200, \
libnl-genl-3-200, libssl3, libspdlog1.10, libfmt9, libsystemd0")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bpftool, prometheus")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${XLB_PKG_DIR}/debian/conffiles ${XLB_PKG_DIR}/debian/postinst
    ${XLB_PKG_DIR}/debian/prerm ${XLB_PKG_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/packages)
# Only the runtime files above: no headers or static libraries from the subsystem folders.
set(CPACK_INSTALL_CMAKE_PROJECTS "${CMAKE_BINARY_DIR};xlb;ALL;/")
include(CPack)
