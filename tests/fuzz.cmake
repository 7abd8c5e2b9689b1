# fuzz.cmake — libFuzzer harnesses (clang only), built with -DLNET_FUZZ=ON.
# The harness compiles the frontend and IR sources itself, instrumented with
# -fsanitize=fuzzer,address, so the normal libraries stay uninstrumented. A
# short smoke run seeded from examples/ and tests/golden/ is a ctest test.
if(NOT LNET_FUZZ)
  return()
endif()
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "LNET_FUZZ=ON needs clang: configure with -DCMAKE_C_COMPILER=clang")
endif()

file(GLOB LNET_FUZZ_SRCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/frontend/*.c
     ${CMAKE_SOURCE_DIR}/ir/*.c)
add_executable(fuzz_frontend ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_frontend.c ${LNET_FUZZ_SRCS})
target_include_directories(fuzz_frontend PRIVATE ${CMAKE_SOURCE_DIR}/frontend
                           ${CMAKE_SOURCE_DIR}/ir)
target_compile_options(fuzz_frontend PRIVATE -g -O1 -fsanitize=fuzzer,address,undefined
                       -fno-sanitize-recover=undefined)
target_link_options(fuzz_frontend PRIVATE -fsanitize=fuzzer,address,undefined)
target_link_libraries(fuzz_frontend PRIVATE m)

# The seed corpus: every example and golden input, copied into the build tree
# so that the fuzzer's additions never land in the source tree.
set(LNET_FUZZ_CORPUS ${CMAKE_CURRENT_BINARY_DIR}/fuzz_corpus)
add_test(NAME fuzz_frontend_smoke
  COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
          sh -c "mkdir -p '${LNET_FUZZ_CORPUS}' && cp '${CMAKE_SOURCE_DIR}'/examples/*.lnet '${CMAKE_SOURCE_DIR}'/tests/golden/*.lnet '${LNET_FUZZ_CORPUS}'/ && exec '$<TARGET_FILE:fuzz_frontend>' -runs=20000 -max_len=4096 -timeout=10 '${LNET_FUZZ_CORPUS}'")
set_tests_properties(fuzz_frontend_smoke PROPERTIES TIMEOUT 300
  FAIL_REGULAR_EXPRESSION "ERROR: .*Sanitizer|runtime error:|deadly signal")
