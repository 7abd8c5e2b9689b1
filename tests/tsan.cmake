# tsan.cmake — the ThreadSanitizer configuration (-DLNET_TSAN=ON): Criterion
# does not start under TSan, so only plain executables run here.
if(NOT LNET_TSAN)
  return()
endif()
add_executable(tsan_pipeline ${CMAKE_CURRENT_SOURCE_DIR}/tsan/tsan_pipeline.c)
target_link_libraries(tsan_pipeline PRIVATE lnet_testsupport lnet_runtime lnet_passes lnet_ir)
add_test(NAME tsan_pipeline COMMAND tsan_pipeline)
set_tests_properties(tsan_pipeline PROPERTIES
  ENVIRONMENT "OPENBLAS_NUM_THREADS=1;TSAN_OPTIONS=halt_on_error=1"
  FAIL_REGULAR_EXPRESSION "WARNING: ThreadSanitizer"
  TIMEOUT 600)
add_executable(tsan_baselines ${CMAKE_CURRENT_SOURCE_DIR}/tsan/tsan_baselines.c)
target_link_libraries(tsan_baselines PRIVATE lnet_testsupport lnet_runtime lnet_passes lnet_ir)
add_test(NAME tsan_baselines COMMAND tsan_baselines)
set_tests_properties(tsan_baselines PROPERTIES
  ENVIRONMENT "OPENBLAS_NUM_THREADS=1;TSAN_OPTIONS=halt_on_error=1"
  FAIL_REGULAR_EXPRESSION "WARNING: ThreadSanitizer"
  TIMEOUT 600)
