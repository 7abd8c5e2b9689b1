# Fault injection: checkpoint saves killed with SIGKILL at many points
# (tests/faults/checkpoint_kill.sh, through the LNET_FAULT_KILL_* test hook of
# runtime/io/safetensors_save.c) never leave an unloadable checkpoint, and the
# killed writer's temporary is removed by the next load or save.
lnet_cli_test(faults_checkpoint_kill 0 "checkpoint_kill: [0-9]+ kills, every checkpoint loads, no temporary left"
  "bash ${CMAKE_CURRENT_SOURCE_DIR}/faults/checkpoint_kill.sh $<TARGET_FILE:lnet> ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet")
set_tests_properties(faults_checkpoint_kill PROPERTIES TIMEOUT 120)
