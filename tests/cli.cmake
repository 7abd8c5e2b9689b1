# CLI-level tests: the generated CLI reference matches the binary, and the
# binary's exit codes / messages for common mistakes.
add_test(NAME cli_doc_matches_binary
  COMMAND bash -c "${CMAKE_SOURCE_DIR}/tools/gen-cli-doc.sh $<TARGET_FILE:lnet> | diff -u ${CMAKE_SOURCE_DIR}/docs/cli.md -")
add_test(NAME cli_examples_check
  COMMAND bash -c "for f in ${CMAKE_SOURCE_DIR}/examples/*.lnet; do $<TARGET_FILE:lnet> check $f || exit 1; $<TARGET_FILE:lnet> ir $f > /dev/null || exit 1; done")
add_test(NAME cli_unknown_option_is_user_error
  COMMAND bash -c "$<TARGET_FILE:lnet> check ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --bogus 2>&1; test $? -eq 1")
set_tests_properties(cli_unknown_option_is_user_error PROPERTIES
  PASS_REGULAR_EXPRESSION "unknown option '--bogus'")
add_test(NAME cli_missing_file_is_user_error
  COMMAND bash -c "$<TARGET_FILE:lnet> check /nonexistent.lnet; test $? -eq 1")
