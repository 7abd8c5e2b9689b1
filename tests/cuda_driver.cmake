# The CUDA driver wrapper is tested against tests/fake_cuda.c, a host-memory
# stand-in for libcuda.so.1 that test_cuda_driver loads via LNET_CUDA_DRIVER.
if(TARGET test_cuda_driver)
  add_library(fake_cuda MODULE ${CMAKE_CURRENT_SOURCE_DIR}/fake_cuda.c)
  target_compile_definitions(test_cuda_driver PRIVATE FAKE_CUDA_PATH="$<TARGET_FILE:fake_cuda>")
  add_dependencies(test_cuda_driver fake_cuda)
endif()
