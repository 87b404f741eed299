include(GoogleTest)
# xlb_gtest(NAME LABEL [NO_LAB] SOURCES... LIBS ...): one GoogleTest binary registered with ctest.
# LABEL is unit (no privileges), bpf (BPF_PROG_TEST_RUN, root) or netns (namespace lab, root).
function(xlb_gtest name label)
  cmake_parse_arguments(T "NO_LAB" "TIMEOUT" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  if((label STREQUAL "bpf" OR label STREQUAL "netns") AND NOT T_NO_LAB)
    # NO_LAB: a suite that neither mounts nor makes namespaces, and so runs without CAP_SYS_ADMIN.
    # Skips the whole suite, with the reason, where the labs' namespaces and mounts are refused.
    target_sources(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/support/lab_privileges.cpp)
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
endfunction()
