# xlb_bpf_object(NAME SOURCE): compiles bpf/NAME.bpf.c with clang -target bpf and generates
# gen/xlb/NAME.skel.h with bpftool; the target xlb_bpf_NAME carries the include path.
find_program(CLANG clang REQUIRED)
find_program(BPFTOOL bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)
execute_process(COMMAND uname -m OUTPUT_VARIABLE XLB_HOST_ARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
file(GLOB XLB_BPF_HEADERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/bpf/*.h ${CMAKE_SOURCE_DIR}/include/xlb/*.h)

function(xlb_bpf_object name)
  set(src ${CMAKE_CURRENT_SOURCE_DIR}/${name}.bpf.c)
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(skel ${XLB_GEN_DIR}/xlb/${name}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CLANG} -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall -Wextra -Werror
            -I${CMAKE_SOURCE_DIR}/include -I${CMAKE_SOURCE_DIR}/bpf
            -I/usr/include/${XLB_HOST_ARCH}-linux-gnu -c ${src} -o ${obj}
    DEPENDS ${src} ${XLB_BPF_HEADERS}
    COMMENT "BPF ${name}.bpf.c")
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name xlb_${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "skeleton ${name}.skel.h")
  add_custom_target(xlb_bpf_${name}_gen DEPENDS ${skel})
  add_library(xlb_bpf_${name} INTERFACE)
  add_dependencies(xlb_bpf_${name} xlb_bpf_${name}_gen)
  target_link_libraries(xlb_bpf_${name} INTERFACE xlb_headers PkgConfig::LIBBPF)
endfunction()
