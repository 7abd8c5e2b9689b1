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
# The whole command under TSan (interpreter): overlap's windows in parallel
# with their shared parameters, greedy's 5 blocks packed onto 2 workers, and
# backprop on a team of 2 (products cut into bands on a helper thread).
set(LNET_TSAN_TRAIN "$<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --exec interp --threads 2 --max-steps 6 --train-limit 1024 --test-limit 64 --eval-every 3 --quiet")
add_test(NAME tsan_lnet_schedules
  COMMAND bash -c "${LNET_TSAN_TRAIN} --method overlap && ${LNET_TSAN_TRAIN} --method greedy && ${LNET_TSAN_TRAIN} --method backprop && echo schedules ok")
set_tests_properties(tsan_lnet_schedules PROPERTIES
  ENVIRONMENT "OPENBLAS_NUM_THREADS=1;TSAN_OPTIONS=halt_on_error=1"
  PASS_REGULAR_EXPRESSION "schedules ok"
  FAIL_REGULAR_EXPRESSION "WARNING: ThreadSanitizer"
  TIMEOUT 600)
