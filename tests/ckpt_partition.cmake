# Checkpoints carry the partition they were trained with (__metadata__
# lnet.method, lnet.blocks, lnet.overlap, lnet.balance, lnet.partition):
# `lnet eval --load` and `lnet train --resume` take it when the flags are not
# given and refuse another one. The model is the MLP with a backprop default,
# so only the checkpoint can tell that it was trained chunked into 2 blocks.
set(LNET_CP_SETUP "d=$(mktemp -d); trap 'rm -rf $d' EXIT; sed 's/^local.*/local { method = backprop }/' ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet > $d/m.lnet; q='--train-limit 256 --test-limit 64 --quiet'; $<TARGET_FILE:lnet> train $d/m.lnet --method chunked --blocks 2 $q --max-steps 2 --save $d/c.ckpt")
lnet_cli_test(ckpt_partition_eval_takes_record 0 "^  task .*\\n  head1 .*\\n$"
  "${LNET_CP_SETUP} && $<TARGET_FILE:lnet> eval $d/m.lnet --load $d/c.ckpt --test-limit 64")
lnet_cli_test(ckpt_partition_eval_refuses_other_blocks 1
  "^lnet eval: error: [^ ]*/c\\.ckpt was trained with --method chunked --blocks 2, but the command asks for --blocks 3\\n$"
  "${LNET_CP_SETUP} && $<TARGET_FILE:lnet> eval $d/m.lnet --load $d/c.ckpt --test-limit 64 --blocks 3")
# data-parallel trains with backprop: its tensors are a subset, which loaded
lnet_cli_test(ckpt_partition_resume_refuses_data_parallel 1
  "^lnet train: error: [^ ]*/c\\.ckpt was trained with --method chunked --blocks 2, but the command asks for --schedule data-parallel\\n$"
  "${LNET_CP_SETUP} && $<TARGET_FILE:lnet> train $d/m.lnet $q --max-steps 4 --schedule data-parallel --resume $d/c.ckpt")
lnet_cli_test(ckpt_partition_resume_without_flags_is_bit_identical 0 "^resumed bit-identically\\n$"
  "${LNET_CP_SETUP} && $<TARGET_FILE:lnet> train $d/m.lnet --method chunked --blocks 2 $q --max-steps 4 --save $d/a.ckpt && $<TARGET_FILE:lnet> train $d/m.lnet $q --max-steps 4 --resume $d/c.ckpt --save $d/b.ckpt && cmp $d/a.ckpt $d/b.ckpt && echo resumed bit-identically")
# A checkpoint without the record (renamed keys: the file keeps its size)
# loads as before, with the flags as trained.
lnet_cli_test(ckpt_partition_old_checkpoint_loads_with_flags 0 "^  task .*\\n  head1 .*\\n$"
  "${LNET_CP_SETUP} && perl -pi -e 's/lnet\\.(method|blocks)/lnet_$1/g' $d/c.ckpt && $<TARGET_FILE:lnet> eval $d/m.lnet --load $d/c.ckpt --test-limit 64 --method chunked --blocks 2")
# A trainer's partition is fixed at build time: another one is refused.
lnet_cli_test(ckpt_partition_trainer_refuses_other_partition 1
  "^lnet tr: error: [^ ]*/c\\.ckpt was trained with --method chunked --blocks 2, but this trainer runs --method backprop \\(fixed by lnet build: build one with the checkpoint's flags\\)\\n$"
  "${LNET_CP_SETUP} && $<TARGET_FILE:lnet> build $d/m.lnet -o $d/tr --quiet && $d/tr $q --max-steps 4 --resume $d/c.ckpt")

# The learning-rate schedule spans the length of the run that started it,
# recorded in the checkpoint (lnet.lr_horizon): a resume with a larger
# --max-steps does not restart the cosine (its rates stay at the end of the
# 4-step schedule, 0) and says so once.
lnet_cli_test(resume_keeps_the_cosine_horizon 0
  "lnet train: note: the cosine schedule keeps the length of the run that started it \\(4 steps\\); this run stops at step 8\\n(.|\\n)*lrs 0 0 0 0 \\n"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; r=\"$<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --schedule-lr cosine --train-limit 256 --test-limit 64 --batch 32 --threads 1\"; $r --max-steps 4 --quiet --save $d/c.ckpt && $r --max-steps 8 --resume $d/c.ckpt --log $d/b.csv 2>&1 | grep note; echo lrs $(grep ^train, $d/b.csv | cut -d, -f5) ''")
