# onnx.cmake — lnet's ops and optimizers against ONNX's own backend node tests
# (tests/onnx/runner.c says how). onnx_conformance runs every case through the
# interpreter and the JIT and fails when a case that maps onto lnet does not
# pass; it writes the table of counts that docs/testing.md holds between its
# onnx-conformance markers, and onnx_conformance_doc fails when the two differ.
# The cases come from Debian's libonnx-testdata (tools/setup.sh installs it):
# without it, onnx_conformance fails and says so.
if(NOT LNET_HAVE_CODEGEN)
  return()
endif()
set(LNET_ONNX_DATA /usr/share/libonnx-testdata/data)
set(LNET_ONNX_TABLE ${CMAKE_CURRENT_BINARY_DIR}/onnx_conformance.md)

add_executable(onnx_runner onnx/runner.c onnx/onnx_pb.c onnx/onnx_map.c)
target_compile_options(onnx_runner PRIVATE -Wall -Wextra -Wshadow -Wstrict-prototypes
                       -Wmissing-prototypes)
target_link_libraries(onnx_runner PRIVATE lnet_codegen lnet_runtime lnet_ir m)

if(EXISTS ${LNET_ONNX_DATA}/node)
  lnet_cli_test(onnx_conformance 0 "onnx: [0-9]+ cases, [0-9]+ applicable, ([0-9]+) passing, 0 failing"
    "$<TARGET_FILE:onnx_runner> ${LNET_ONNX_DATA}/node ${LNET_ONNX_DATA}/pytorch-converted ${LNET_ONNX_DATA}/pytorch-operator --table ${LNET_ONNX_TABLE}")
else()
  lnet_cli_test(onnx_conformance 0 "never"
    "echo 'onnx_conformance: error: ${LNET_ONNX_DATA}/node is missing: install libonnx-testdata (tools/setup.sh)'; exit 1")
endif()
set_tests_properties(onnx_conformance PROPERTIES FIXTURES_SETUP onnx_table)
lnet_cli_test(onnx_conformance_doc 0 ""
  "sed -n '/^<!-- onnx-conformance:begin -->$/,/^<!-- onnx-conformance:end -->$/p' ${CMAKE_SOURCE_DIR}/docs/testing.md | diff -u - ${LNET_ONNX_TABLE}")
set_tests_properties(onnx_conformance_doc PROPERTIES FIXTURES_REQUIRED onnx_table)
