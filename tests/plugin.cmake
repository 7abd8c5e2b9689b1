# Partition plug-ins (--load-pass, docs/passes.md): the example
# examples/plugin/stages.c built as a module, and broken ones (tests/plugin/bad.c).
add_library(lnet_plugin_stages MODULE ${CMAKE_SOURCE_DIR}/examples/plugin/stages.c)
foreach(kind ABI NO_INIT BUILTIN DUP BLOCKS)
  string(TOLOWER ${kind} k)
  add_library(lnet_plugin_bad_${k} MODULE ${CMAKE_CURRENT_SOURCE_DIR}/plugin/bad.c)
  target_compile_definitions(lnet_plugin_bad_${k} PRIVATE BAD_${kind})
endforeach()
foreach(t stages bad_abi bad_no_init bad_builtin bad_dup bad_blocks)
  target_include_directories(lnet_plugin_${t} PRIVATE ${CMAKE_SOURCE_DIR}/passes)
  target_compile_options(lnet_plugin_${t} PRIVATE -Wall -Wextra)
  add_dependencies(lnet lnet_plugin_${t})   # built with lnet, so ctest finds them
endforeach()

set(LNET ${CMAKE_BINARY_DIR}/lnet)
set(RESNET ${CMAKE_SOURCE_DIR}/examples/fmnist_resnet.lnet)
set(STAGES $<TARGET_FILE:lnet_plugin_stages>)
macro(bad k)
  set(BAD_${k} $<TARGET_FILE:lnet_plugin_bad_${k}>)
endmacro()
foreach(k abi no_init builtin dup blocks)
  bad(${k})
endforeach()

# the plug-in's cuts: two stages (28x28, then 14x14 and the classifier)
lnet_cli_test(plugin_cost 0
  "warning: partition method 'stages': 2 resolution stages make 2 blocks; blocks = 4 is ignored(.|\\n)*2 blocks;(.|\\n)*\\n    2 .*\\ntotal"
  "${LNET} cost ${RESNET} --load-pass ${STAGES} --method stages")
# the blocks as the IR shows them: block 1 starts after the pool
lnet_cli_test(plugin_ir 0 "maxpool[^\\n]*@b1 (.|\\n)*stop_gradient[^\\n]*@b2 "
  "${LNET} ir ${RESNET} --load-pass ${STAGES} --method stages")
lnet_cli_test(plugin_train 0 "2 blocks"
  "${LNET} train ${RESNET} --load-pass ${STAGES} --method stages --max-steps 2 --train-limit 256 --test-limit 64 --exec interp --quiet")
# an unknown --method lists the loaded plug-ins' methods too
lnet_cli_test(plugin_unknown_method 1
  "unknown value 'nope' \\(expected one of: backprop greedy chunked overlap last-layer, or a plug-in's: stages\\)"
  "${LNET} dot ${RESNET} --load-pass ${STAGES} --method nope")
lnet_cli_test(plugin_not_found 1
  "^lnet cost: error: --load-pass /nonexistent/libx.so: cannot load: .*No such file"
  "${LNET} cost ${RESNET} --load-pass /nonexistent/libx.so --method stages")
lnet_cli_test(plugin_not_a_library 1 "^lnet check: error: --load-pass .*: cannot load: "
  "${LNET} check ${RESNET} --load-pass ${RESNET}")
lnet_cli_test(plugin_no_entry 1
  "^lnet ir: error: --load-pass .*: not an lnet pass plug-in: no entry point lnet_pass_plugin_init"
  "${LNET} ir ${RESNET} --load-pass ${BAD_no_init}")
lnet_cli_test(plugin_abi 1
  "^lnet dot: error: --load-pass .*: built for pass ABI version 99; this lnet has version 1"
  "${LNET} dot ${RESNET} --load-pass ${BAD_abi}")
lnet_cli_test(plugin_builtin_name 1
  "^lnet train: error: --load-pass .*: method 'greedy' is a built-in method"
  "${LNET} train ${RESNET} --load-pass ${BAD_builtin} --max-steps 1")
lnet_cli_test(plugin_duplicate 1
  "^lnet cost: error: --load-pass .*bad_dup.*: method 'stages' is already registered \\(by .*stages"
  "${LNET} cost ${RESNET} --load-pass ${STAGES},${BAD_dup}")
lnet_cli_test(plugin_bad_blocks 1
  "fmnist_resnet.lnet:29:1: error: partition method 'bad': set_blocks: block 0 ends at layer 0; the ends must increase strictly and the last must be layer 5"
  "${LNET} cost ${RESNET} --load-pass ${BAD_blocks} --method bad")
