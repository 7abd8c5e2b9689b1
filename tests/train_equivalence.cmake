# Whole `lnet train` runs that must be the same training, compared by
# tests/support/train_compare.sh (checkpoints byte for byte, logged losses):
# the JIT on blocks the partition passes made, where test_pipeline.c and
# test_train.c use hand-built blocks in the interpreter.
set(LNET_TC "bash ${CMAKE_CURRENT_SOURCE_DIR}/support/train_compare.sh $<TARGET_FILE:lnet> ${CMAKE_SOURCE_DIR}/examples")
# The threaded local schedule equals the sequential one (README, "How it is
# checked"), chunked into 2 blocks and greedy (a block per layer).
lnet_cli_test(cli_local_equals_sequential_chunked_jit 0 "the same training: 6 steps, 3 evaluations"
  "${LNET_TC}/fmnist_mlp.lnet '--exec jit --method chunked --blocks 2 --train-limit 1280 --test-limit 128 --max-steps 6 --eval-every 3' '--schedule local' '--schedule sequential'")
lnet_cli_test(cli_local_equals_sequential_greedy_jit 0 "the same training: 6 steps, 3 evaluations"
  "${LNET_TC}/fmnist_mlp.lnet '--exec jit --method greedy --train-limit 1280 --test-limit 128 --max-steps 6 --eval-every 3' '--schedule local' '--schedule sequential'")
# A run stopped mid-epoch (step 3 of 5) and resumed equals the straight run,
# across the next epoch's shuffle.
lnet_cli_test(cli_resume_mid_epoch_equals_straight_jit 0 "the same training: 8 steps"
  "${LNET_TC}/fmnist_mlp.lnet '--exec jit --method chunked --blocks 2 --train-limit 640 --test-limit 128 --max-steps 8' '' '' 3")
# The same with dropout: the resumed run draws the masks the straight run drew.
lnet_cli_test(cli_resume_mid_epoch_with_dropout_jit 0 "the same training: 8 steps"
  "bash ${CMAKE_CURRENT_SOURCE_DIR}/support/train_compare.sh $<TARGET_FILE:lnet> ${CMAKE_CURRENT_SOURCE_DIR}/support/dropout_mlp.lnet '--exec jit --train-limit 160 --test-limit 64 --epochs 2 --max-steps 8' '' '' 3")
