# batchnorm from the command line (tests/batchnorm/bn_cnn.lnet: batch norm in
# both of its two chunked blocks). The running statistics are what evaluation
# normalizes with, so `lnet eval` of a checkpoint reproduces the training
# run's final test accuracy only when they are saved and loaded; the run must
# also have learned (>= 70% after 100 steps). The data-parallel schedule keeps
# replica 0's statistics (saved, and evaluated during training); the AOT
# trainer of `lnet build` runs the same lowered code as `lnet train`.
set(LNET_BN_MODEL "${CMAKE_CURRENT_SOURCE_DIR}/batchnorm/bn_cnn.lnet")
set(LNET_BN_EVAL "a=$(grep -o 'test accuracy [0-9.]*%' $d/t | grep -o '[0-9.]*%'); b=$(grep -o 'task .*accuracy [0-9.]*%' $d/e | grep -o '[0-9.]*%$'); cat $d/t $d/e; test -n \"$a\" && test \"$a\" = \"$b\" && echo \"eval matches: $a\"")
lnet_cli_test(batchnorm_chunked_trains_and_checkpoint_keeps_running_stats 0 "eval matches: ([7-9][0-9])\\.[0-9]+%\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; L=$<TARGET_FILE:lnet>; q='--test-limit 500'; $L train ${LNET_BN_MODEL} --max-steps 100 --train-limit 6400 $q --threads 1 --save $d/c.ckpt > $d/t 2>&1 && $L eval ${LNET_BN_MODEL} --load $d/c.ckpt $q > $d/e 2>&1 && ${LNET_BN_EVAL}")
lnet_cli_test(batchnorm_data_parallel_saves_the_running_stats_it_evaluates 0 "eval matches: [0-9]+\\.[0-9]+%\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; L=$<TARGET_FILE:lnet>; q='--method backprop --test-limit 200'; $L train ${LNET_BN_MODEL} --schedule data-parallel --threads 2 --max-steps 20 --train-limit 1280 $q --save $d/c.ckpt > $d/t 2>&1 && $L eval ${LNET_BN_MODEL} --load $d/c.ckpt $q > $d/e 2>&1 && ${LNET_BN_EVAL}")
lnet_cli_test(batchnorm_aot_trainer_matches_lnet_train 0 "same: test loss [0-9.]+, test accuracy [0-9.]+%\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; L=$<TARGET_FILE:lnet>; q='--max-steps 20 --train-limit 1280 --test-limit 200 --threads 1'; $L build ${LNET_BN_MODEL} -o $d/tr --quiet && $d/tr $q > $d/a 2>&1 && $L train ${LNET_BN_MODEL} $q > $d/b 2>&1; cat $d/a $d/b; x=$(grep -o 'test loss [0-9.]*, test accuracy [0-9.]*%' $d/a); test -n \"$x\" && test \"$x\" = \"$(grep -o 'test loss [0-9.]*, test accuracy [0-9.]*%' $d/b)\" && echo \"same: $x\"")
# lnet check counts trained parameters only: not the running statistics.
lnet_cli_test(batchnorm_running_stats_are_not_parameters 0 "^bn_cnn: ok: 44 nodes, 14 parameter tensors, 26876 parameters, "
  "$<TARGET_FILE:lnet> check ${LNET_BN_MODEL}")
