# Whole `lnet train` runs that must be the same training, compared by
# tests/support/train_compare.sh (checkpoints byte for byte, logged losses):
# the JIT on blocks the partition passes made, where test_pipeline.c and
# test_train.c use hand-built blocks in the interpreter.
set(LNET_TC "bash ${CMAKE_CURRENT_SOURCE_DIR}/support/train_compare.sh $<TARGET_FILE:lnet> ${CMAKE_SOURCE_DIR}/examples")
# The threaded local schedule equals the sequential one (README, "How it is
# checked"), chunked into 2 and 4 blocks and greedy (a block per layer: 5),
# on 2 cores: the 4 and 5 blocks are packed onto 2 workers.
lnet_cli_test(cli_local_equals_sequential_chunked_jit 0 "the same training: 6 steps, 3 evaluations"
  "${LNET_TC}/fmnist_mlp.lnet '--exec jit --method chunked --blocks 2 --threads 2 --train-limit 1280 --test-limit 128 --max-steps 6 --eval-every 3' '--schedule local' '--schedule sequential'")
lnet_cli_test(cli_local_equals_sequential_chunked4_jit 0 "the same training: 6 steps, 3 evaluations"
  "${LNET_TC}/fmnist_mlp.lnet '--exec jit --method chunked --blocks 4 --threads 2 --train-limit 1280 --test-limit 128 --max-steps 6 --eval-every 3' '--schedule local' '--schedule sequential'")
lnet_cli_test(cli_local_equals_sequential_greedy_jit 0 "the same training: 6 steps, 3 evaluations"
  "${LNET_TC}/fmnist_mlp.lnet '--exec jit --method greedy --threads 2 --train-limit 1280 --test-limit 128 --max-steps 6 --eval-every 3' '--schedule local' '--schedule sequential'")
# Overlap runs its windows in parallel with the shared layer's parameters one
# update late (--overlap-delay 1, local's default): the same training as the
# sequential schedule with the same delay; with delay 0 (lockstep) it differs.
lnet_cli_test(cli_overlap_local_equals_sequential_delay1_jit 0 "the same training: 6 steps, 3 evaluations"
  "${LNET_TC}/fmnist_mlp.lnet '--exec jit --method overlap --threads 2 --train-limit 1280 --test-limit 128 --max-steps 6 --eval-every 3' '--schedule local' '--schedule sequential --overlap-delay 1'")
lnet_cli_test(cli_overlap_delay_changes_the_training 0 "train_compare: FAIL: the (logged losses|checkpoints) differ"
  "${LNET_TC}/fmnist_mlp.lnet '--exec interp --method overlap --train-limit 512 --test-limit 64 --max-steps 3' '--schedule sequential --overlap-delay 1' '--schedule sequential' | grep -E 'FAIL: the (logged losses|checkpoints) differ'")
lnet_cli_test(cli_overlap_local_refuses_delay0 1
  "the local schedule runs overlapping windows with a delay of at least 1"
  "$<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --method overlap --schedule local --overlap-delay 0 --exec interp --max-steps 1 --train-limit 256 --test-limit 32 --quiet")
lnet_cli_test(cli_overlap_delay_needs_overlap 1
  "--overlap-delay applies to --method overlap \\(this run's method is chunked\\)"
  "$<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --overlap-delay 1 --exec interp --max-steps 1 --train-limit 256 --test-limit 32 --quiet")
# A checkpoint of overlap blocks holds each shared parameter once and resumes.
lnet_cli_test(cli_overlap_resume_equals_straight_delay0 0 "the same training: 6 steps"
  "${LNET_TC}/fmnist_mlp.lnet '--exec interp --method overlap --schedule sequential --train-limit 640 --test-limit 64 --max-steps 6' '' '' 3")
# A run stopped mid-epoch (step 3 of 5) and resumed equals the straight run,
# across the next epoch's shuffle.
lnet_cli_test(cli_resume_mid_epoch_equals_straight_jit 0 "the same training: 8 steps"
  "${LNET_TC}/fmnist_mlp.lnet '--exec jit --method chunked --blocks 2 --train-limit 640 --test-limit 128 --max-steps 8' '' '' 3")
# The same with dropout: the resumed run draws the masks the straight run drew.
lnet_cli_test(cli_resume_mid_epoch_with_dropout_jit 0 "the same training: 8 steps"
  "bash ${CMAKE_CURRENT_SOURCE_DIR}/support/train_compare.sh $<TARGET_FILE:lnet> ${CMAKE_CURRENT_SOURCE_DIR}/support/dropout_mlp.lnet '--exec jit --train-limit 160 --test-limit 64 --epochs 2 --max-steps 8' '' '' 3")
