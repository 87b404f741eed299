include(GoogleTest)
# Test code is compiled without optimisation: it is a third of the build and -O2 buys it nothing,
# while the code under test (the ctrl/ libraries, the BPF objects, tools and benchmarks) keeps its
# release flags. About 40% less compile time for a test file (docs/performance.md).
set(XLB_TEST_CODE_OPTIONS -O0)
# Compiled once and linked into every lab suite (it was compiled once per suite before).
# An object library, not a static one: nothing references its test environment by name.
add_library(xlb_lab_privileges OBJECT ${CMAKE_SOURCE_DIR}/tests/support/lab_privileges.cpp)
target_link_libraries(xlb_lab_privileges PRIVATE GTest::gtest xlb_headers)
target_compile_options(xlb_lab_privileges PRIVATE ${XLB_TEST_CODE_OPTIONS})
# xlb_test_schedule(NAME KIND): what `make check` (ctest -j 2) may run beside this test.
#   unit, bpf  two at a time, beside anything that is not `alone`.
#   lab        one namespace lab at a time: a lab mostly waits on timers, so a unit test or the VM
#              beside it costs it little; namespaces, pins and ports carry per-run suffixes.
#   vm         one VM at a time, started first (COST): the longest entries, each one qemu thread.
#   alone      nothing beside it: labs whose peers run on timers of 100 ms or less (BFD, VRRP
#              adverts at 0.1 s) or that drive a browser.
function(xlb_test_schedule name kind)
  if(kind STREQUAL "lab")
    set_tests_properties(${name} PROPERTIES RESOURCE_LOCK xlb_lab)
  elseif(kind STREQUAL "vm")
    set_tests_properties(${name} PROPERTIES RESOURCE_LOCK xlb_vm COST 1000)
  elseif(kind STREQUAL "alone")
    set_tests_properties(${name} PROPERTIES RUN_SERIAL TRUE)
  elseif(NOT kind STREQUAL "unit" AND NOT kind STREQUAL "bpf")
    message(FATAL_ERROR "xlb_test_schedule: unknown kind '${kind}' for ${name}")
  endif()
endfunction()
# xlb_gtest(NAME LABEL [NO_LAB] SOURCES... LIBS ...): one GoogleTest binary registered with ctest.
# LABEL is unit (no privileges), bpf (BPF_PROG_TEST_RUN, root) or netns (namespace lab, root).
function(xlb_gtest name label)
  cmake_parse_arguments(T "NO_LAB" "TIMEOUT" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_compile_options(${name} PRIVATE ${XLB_TEST_CODE_OPTIONS})
  if((label STREQUAL "bpf" OR label STREQUAL "netns") AND NOT T_NO_LAB)
    # NO_LAB: a suite that neither mounts nor makes namespaces, and so runs without CAP_SYS_ADMIN.
    # Skips the whole suite, with the reason, where the labs' namespaces and mounts are refused.
    target_link_libraries(${name} PRIVATE xlb_lab_privileges)
  endif()
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main xlb_headers)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND ${name} --gtest_color=no)
  if((label STREQUAL "bpf" OR label STREQUAL "netns") AND NOT T_NO_LAB)
    set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77)  # tests/support/lab_privileges.cpp
  endif()
  set_tests_properties(${name} PROPERTIES LABELS ${label} TIMEOUT ${T_TIMEOUT}
                                          ENVIRONMENT "XLB_SOURCE_DIR=${CMAKE_SOURCE_DIR};XLB_BINARY_DIR=${CMAKE_BINARY_DIR}")
  if(label STREQUAL "netns")
    xlb_test_schedule(${name} lab)
  endif()
endfunction()
