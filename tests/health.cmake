# Block health (runtime/health.c): the step log carries every block's
# gradient norm and update/weight ratio, and a block that stops learning is
# reported — its loss at chance level, or no gradient, for --dead-block-steps
# steps in a row — as a warning, or with --fail-on-dead-block as an error
# that keeps the last checkpoint.
set(LNET_HEALTH_RUN "$<TARGET_FILE:lnet> train --max-steps 30 --train-limit 1920 --test-limit 64 --quiet --dead-block-steps 20")
lnet_cli_test(health_block_at_chance_is_reported 0
  "(?s)lnet train: warning: block 2 looks dead: its loss has stayed at chance level \\(ln 10 = 2\\.303\\) for 20 steps \\(since step 1\\)\\n.*\"dead_blocks\":\\[2\\],"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${LNET_HEALTH_RUN} ${CMAKE_CURRENT_SOURCE_DIR}/health/dead_block.lnet --report $d/r.json && cat $d/r.json")
lnet_cli_test(health_block_without_gradient_is_reported 0
  "lnet train: warning: block 2 looks dead: its gradient norm has stayed below 1e-08 for 20 steps \\(since step 1\\)\\n"
  "${LNET_HEALTH_RUN} ${CMAKE_CURRENT_SOURCE_DIR}/health/still_block.lnet")
# --fail-on-dead-block: exit 1 with the error, and the checkpoint of the run
# before it (resumed from, and --save'd to) is left as it was.
lnet_cli_test(health_fail_on_dead_block_keeps_checkpoint 1
  "(?s)lnet train: error: block 2 looks dead: its loss has stayed at chance level \\(ln 10 = 2\\.303\\) for 20 steps \\(since step 3\\); stopping \\(--fail-on-dead-block\\) — the last checkpoint, if any, is kept\\n.*checkpoint kept"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; m=${CMAKE_CURRENT_SOURCE_DIR}/health/dead_block.lnet; ${LNET_HEALTH_RUN} $m --max-steps 2 --save $d/c.ckpt || exit 9; cp $d/c.ckpt $d/before; ${LNET_HEALTH_RUN} $m --resume $d/c.ckpt --save $d/c.ckpt --fail-on-dead-block; rc=$?; cmp -s $d/c.ckpt $d/before && echo checkpoint kept; exit $rc")
# A block that learns is not reported, however short the window.
lnet_cli_test(health_learning_blocks_are_not_reported 0 "healthy ok"
  "out=$($<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --batch 32 --max-steps 20 --train-limit 640 --test-limit 64 --quiet --threads 1 --dead-block-steps 5 2>&1) || exit 1; echo \"$out\"; case \"$out\" in *warning*) exit 1;; esac; echo healthy ok")
# The log rows: JSON lines with a blocks array, CSV with per-block columns.
lnet_cli_test(health_log_rows_carry_block_health 0 "health fields ok"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; m=${CMAKE_CURRENT_SOURCE_DIR}/health/dead_block.lnet; ${LNET_HEALTH_RUN} $m --max-steps 2 --log $d/l.jsonl && ${LNET_HEALTH_RUN} $m --max-steps 2 --schedule sequential --log $d/l.csv && cat $d/l.jsonl $d/l.csv && grep -Eq '^\\{\"kind\":\"train\",\"step\":2,.*\"blocks\":\\[\\{\"block\":1,\"grad_norm\":[0-9.e+-]+,\"update_ratio\":[0-9.e+-]+\\},\\{\"block\":2,\"grad_norm\":[0-9.e+-]+,\"update_ratio\":[0-9.e+-]+\\}\\]\\}$' $d/l.jsonl && head -1 $d/l.csv | grep -q ',grad_norm_1,update_ratio_1,grad_norm_2,update_ratio_2$' && grep -Eq '^train,2,([^,]*,){8}[0-9.e+-]+,[0-9.e+-]+,[0-9.e+-]+,[0-9.e+-]+$' $d/l.csv && echo health fields ok")
