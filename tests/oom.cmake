# oom.cmake — test_oom (tests/test_oom.c) runs lnet with a failing allocator:
# the linker sends the lnet libraries' (and the test's) calls to the functions
# below to tests/oom/failalloc.c, which counts them and fails the chosen one.
# `--wrap` touches only the objects of this link, so libc, zlib, OpenBLAS and
# Criterion keep the real allocator, and under ASan the wrappers forward to
# ASan's: the same test runs in both builds.
if(NOT TARGET test_oom)
  return()
endif()
target_sources(test_oom PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/oom/failalloc.c)
target_include_directories(test_oom PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/oom)
target_link_libraries(test_oom PRIVATE ZLIB::ZLIB Threads::Threads)
target_link_options(test_oom PRIVATE
  "LINKER:--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc,--wrap=free"
  "LINKER:--wrap=strdup,--wrap=fopen,--wrap=fdopen,--wrap=open_memstream,--wrap=fclose"
  "LINKER:--wrap=gzopen,--wrap=gzclose")
