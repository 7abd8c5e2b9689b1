# fuzz.cmake — libFuzzer harnesses (clang only), built with -DLNET_FUZZ=ON.
# The IR, frontend, passes and runtime sources are compiled once more into
# lnet_fuzz_core, instrumented for coverage and with ASan + UBSan, so the
# normal libraries stay uninstrumented. Each harness is one file in fuzz/ and
# gets a ctest smoke run seeded from fuzz/corpus/<harness>/ (docs/testing.md).
if(NOT LNET_FUZZ)
  return()
endif()
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "LNET_FUZZ=ON needs clang: configure with -DCMAKE_C_COMPILER=clang")
endif()

set(LNET_FUZZ_SAN -fsanitize=address,undefined -fno-sanitize-recover=undefined)
set(LNET_FUZZ_DIRS ir frontend passes ${LNET_RUNTIME_DIRS})
set(LNET_FUZZ_SRCS "")
foreach(d ${LNET_FUZZ_DIRS})
  file(GLOB s CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${d}/*.c)
  list(APPEND LNET_FUZZ_SRCS ${s})
endforeach()
add_library(lnet_fuzz_core STATIC ${LNET_FUZZ_SRCS})
foreach(d ${LNET_FUZZ_DIRS})
  target_include_directories(lnet_fuzz_core PUBLIC ${CMAKE_SOURCE_DIR}/${d})
endforeach()
target_compile_options(lnet_fuzz_core PRIVATE -g -O1 -fsanitize=fuzzer-no-link ${LNET_FUZZ_SAN})
target_link_libraries(lnet_fuzz_core PUBLIC PkgConfig::OPENBLAS ZLIB::ZLIB Threads::Threads m)

# The seed corpora are copied into the build tree before each smoke run, so
# that what the fuzzer adds never lands in the source tree.
set(LNET_FUZZ_CORPUS ${CMAKE_CURRENT_BINARY_DIR}/fuzz_corpus)

# lnet_fuzzer(NAME RUNS [DICT FILE] [SEEDS GLOB...]): the harness fuzz/NAME.c,
# and the ctest test NAME_smoke that runs it RUNS times from fuzz/corpus/NAME/
# and the SEEDS (globs under the source tree); a finding is written to
# fuzz_corpus/NAME-crash-* (or -timeout-, -leak-, -oom-) in the build tree.
add_custom_target(fuzzers)      # every harness: cmake --build build-fuzz --target fuzzers
function(lnet_fuzzer name runs)
  cmake_parse_arguments(F "" "DICT" "SEEDS" ${ARGN})
  add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${name}.c)
  add_dependencies(fuzzers ${name})
  target_compile_options(${name} PRIVATE -g -O1 -fsanitize=fuzzer ${LNET_FUZZ_SAN})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer ${LNET_FUZZ_SAN})
  target_link_libraries(${name} PRIVATE lnet_fuzz_core)
  set(dir ${LNET_FUZZ_CORPUS}/${name})
  set(seeds "")
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${name})
    set(seeds "'${CMAKE_CURRENT_SOURCE_DIR}'/fuzz/corpus/${name}/*")
  endif()
  foreach(s ${F_SEEDS})
    string(APPEND seeds " '${CMAKE_SOURCE_DIR}'/${s}")
  endforeach()
  set(flags "-runs=${runs} -max_len=4096 -timeout=10 -artifact_prefix='${dir}-'")
  if(F_DICT)
    string(APPEND flags " -dict='${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${F_DICT}'")
  endif()
  add_test(NAME ${name}_smoke
    COMMAND sh -c "rm -rf '${dir}' && mkdir -p '${dir}' && cp ${seeds} '${dir}'/ && exec '$<TARGET_FILE:${name}>' ${flags} '${dir}'")
  set_tests_properties(${name}_smoke PROPERTIES TIMEOUT 300
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1;OPENBLAS_NUM_THREADS=1"
    FAIL_REGULAR_EXPRESSION "ERROR: .*Sanitizer|runtime error:|deadly signal|ERROR: libFuzzer")
endfunction()

lnet_fuzzer(fuzz_frontend 20000 DICT lnet.dict SEEDS examples/*.lnet tests/golden/*.lnet)
lnet_fuzzer(fuzz_safetensors 20000 DICT safetensors.dict)
lnet_fuzzer(fuzz_idx 20000)
lnet_fuzzer(fuzz_text 20000)
lnet_fuzzer(fuzz_npy 20000)
lnet_fuzzer(fuzz_step 20000 DICT lnet.dict SEEDS tests/golden/*.lnet)

# fuzz_seeds writes the generated part of fuzz/corpus/ (tests/fuzz/seeds.c).
add_executable(fuzz_seeds ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/seeds.c)
target_compile_options(fuzz_seeds PRIVATE -g ${LNET_FUZZ_SAN})
target_link_options(fuzz_seeds PRIVATE ${LNET_FUZZ_SAN})
target_link_libraries(fuzz_seeds PRIVATE lnet_fuzz_core)
