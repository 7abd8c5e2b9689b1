# The paper's analyses as commands (docs/analyses.md): gradient similarity
# (lnet gradsim, --gradsim-every), --random-labels, --eval-train,
# --target-loss. Short runs of the MLP example on 512 training examples.
set(LNET_AN_MLP "${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet")
set(LNET_AN_GS "$<TARGET_FILE:lnet> gradsim ${LNET_AN_MLP} --train-limit 512 --batch 64")
set(LNET_AN_TRAIN "$<TARGET_FILE:lnet> train ${LNET_AN_MLP} --train-limit 512 --test-limit 128 --batch 64 --quiet")
# awk over a gradsim CSV: rows of block B (0: every block) whose cosine is
# within 1e-6 of 1, and how many rows that is
set(LNET_AN_ONES "awk -F, -v B=\$B 'NR > 1 && (B == 0 || \$2 == B) { n++; d = \$5 - 1; if (d < 0) d = -d; if (d < 1e-6) one++ } END { printf \"%d of %d rows at 1\\n\", one, n }'")

# K = 1 is plain backprop: every local gradient is the true one
lnet_cli_test(analyses_gradsim_backprop_is_one 0
  "backprop: 10 of 10 rows at 1\\nchunked 1: 10 of 10 rows at 1"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; B=0; ${LNET_AN_GS} --method backprop --out $d/a.csv >/dev/null && ${LNET_AN_GS} --method chunked --blocks 1 --out $d/b.csv >/dev/null && printf 'backprop: ' && ${LNET_AN_ONES} $d/a.csv && printf 'chunked 1: ' && ${LNET_AN_ONES} $d/b.csv")

# chunked K = 2 after 20 steps: the last block's gradients are backprop's,
# the first block's are not; greedy likewise (its last block is the last layer)
lnet_cli_test(analyses_gradsim_trained_blocks 0
  "chunked last: 6 of 6 rows at 1\\nchunked first: 0 of 4 rows at 1\\ngreedy last: 2 of 2 rows at 1\\ngreedy first: 0 of 2 rows at 1\\n"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${LNET_AN_TRAIN} --method chunked --blocks 2 --max-steps 20 --save $d/c.ckpt && ${LNET_AN_TRAIN} --method greedy --max-steps 20 --save $d/g.ckpt && ${LNET_AN_GS} --load $d/c.ckpt --out $d/c.csv >/dev/null && ${LNET_AN_GS} --load $d/g.ckpt --out $d/g.csv >/dev/null && B=2 && printf 'chunked last: ' && ${LNET_AN_ONES} $d/c.csv && B=1 && printf 'chunked first: ' && ${LNET_AN_ONES} $d/c.csv && B=5 && printf 'greedy last: ' && ${LNET_AN_ONES} $d/g.csv && B=1 && printf 'greedy first: ' && ${LNET_AN_ONES} $d/g.csv")

# measuring changes nothing: the same checkpoint and the same step log
# (its columns but the timing ones) with and without --gradsim-every
lnet_cli_test(analyses_gradsim_leaves_training_alone 0
  "^same checkpoint\\nsame log\\nstep,block,layer,param,cosine\\n(0|2|4),"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${LNET_AN_TRAIN} --max-steps 6 --save $d/a.ckpt --log $d/a.csv && ${LNET_AN_TRAIN} --max-steps 6 --save $d/b.ckpt --log $d/b.csv --gradsim-every 2 --gradsim-log $d/g.csv && cmp $d/a.ckpt $d/b.ckpt && echo same checkpoint && diff <(cut -d, -f1-3,7- $d/a.csv) <(cut -d, -f1-3,7- $d/b.csv) && echo same log && head -2 $d/g.csv && awk -F, 'NR > 1 { s[\$1]++ } END { for (k in s) if (s[k] != 10) exit 1 }' $d/g.csv")

# lnet gradsim measures what training measures: at step 0 on the
# initialization, and at step 2 on the weights a checkpoint of step 2 holds
lnet_cli_test(analyses_gradsim_command_matches_training 0
  "^step 0 same\\nstep 2 same\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${LNET_AN_TRAIN} --max-steps 4 --gradsim-every 2 --gradsim-log $d/g.csv && ${LNET_AN_TRAIN} --max-steps 2 --save $d/c.ckpt && ${LNET_AN_GS} --out $d/0.csv >/dev/null && ${LNET_AN_GS} --load $d/c.ckpt --out $d/2.csv >/dev/null && diff <(grep '^0,' $d/g.csv) <(tail -n +2 $d/0.csv) && echo step 0 same && diff <(grep '^2,' $d/g.csv) <(tail -n +2 $d/2.csv) && echo step 2 same")

lnet_cli_test(analyses_gradsim_table 0
  "block  parameter +cosine\\n    1  dense_0.w +0\\.[0-9]+\\n(.*\\n)*    2  dense_4.b +1\\.000000\\n\\nblock  layer +cosine\\n    1  dense_0 +0\\.[0-9]+\\n"
  "${LNET_AN_GS}")
lnet_cli_test(analyses_gradsim_every_needs_log 1
  "lnet train: error: --gradsim-every N and --gradsim-log FILE go together"
  "${LNET_AN_TRAIN} --max-steps 2 --gradsim-every 2")
lnet_cli_test(analyses_gradsim_log_must_be_a_log 1
  "--gradsim-log '[^']*m.lnet': not a gradient-similarity log \\(its first line is not 'step,block,layer,param,cosine'\\); refusing to append to it\\n(.*\\n)?model unchanged"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; cp ${LNET_AN_MLP} $d/m.lnet; ${LNET_AN_TRAIN} --max-steps 2 --gradsim-every 1 --gradsim-log $d/m.lnet; rc=$?; cmp -s $d/m.lnet ${LNET_AN_MLP} && echo model unchanged; exit $rc")
lnet_cli_test(analyses_gradsim_out_must_be_csv 1
  "lnet gradsim: error: --out '[^']*m.lnet': not a gradient-similarity CSV"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; cp ${LNET_AN_MLP} $d/m.lnet; ${LNET_AN_GS} --out $d/m.lnet >/dev/null")

# --random-labels: reported, the same for the same seed, another for another
lnet_cli_test(analyses_random_labels_report 0
  "^\"random_labels\":\\{\"seed\":7,\"fraction_changed\":0\\.[0-9]+\\}\\n\"train_eval\":\\{[^}]*\"examples\":100\\}\\nsame seed same run\\nother seed other labels\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${LNET_AN_TRAIN} --max-steps 4 --random-labels --seed 7 --eval-train 100 --report $d/a.json && ${LNET_AN_TRAIN} --max-steps 4 --random-labels --seed 7 --eval-train 100 --report $d/b.json && ${LNET_AN_TRAIN} --max-steps 4 --random-labels --seed 8 --eval-train 100 --report $d/c.json && grep -o '\"random_labels\":{[^}]*}' $d/a.json && grep -o '\"train_eval\":{[^}]*}' $d/a.json && f() { grep -o '\"random_labels\":{[^}]*}\\|\"train_eval\":{[^}]*}\\|\"final\":{[^}]*}' $1 | sed 's/\"seed\":[0-9]*//'; } && g() { f $1 | grep random_labels; } && diff <(f $d/a.json) <(f $d/b.json) >/dev/null && echo same seed same run && ! diff <(g $d/a.json) <(g $d/c.json) >/dev/null && echo other seed other labels")
lnet_cli_test(analyses_eval_train_log_rows 0
  "^eval,4,[^\\n]*\\neval_train,4,[^\\n]*\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${LNET_AN_TRAIN} --max-steps 4 --eval-train 64 --log $d/l.csv && grep '^eval' $d/l.csv")
lnet_cli_test(analyses_random_labels_text_refused 1
  "lnet train: error: --random-labels applies to a labelled image data set, not text"
  "$<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/charlm.lnet --random-labels --max-steps 1 --quiet")

# --target-loss stops at the first evaluation at or below it
lnet_cli_test(analyses_target_loss_reached 0
  "^\"steps\":2,\\n\"target_loss\":100,\"steps_to_target\":2\\n\"reached\":true\\n\"steps\":10,\\n\"target_loss\":0\\.001,\"steps_to_target\":null\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${LNET_AN_TRAIN} --max-steps 10 --eval-every 2 --target-loss 100 --report $d/a.json && ${LNET_AN_TRAIN} --max-steps 10 --eval-every 2 --target-loss 0.001 --report $d/b.json && for r in a b; do grep -o '\"steps\":[0-9]*,' $d/$r.json | head -1; grep -o '\"target_loss\":[^,]*,\"steps_to_target\":[a-z0-9]*' $d/$r.json; [ $r = a ] && grep -o '\"reached\":true' $d/$r.json; done; true")
lnet_cli_test(analyses_target_loss_must_be_positive 1
  "lnet train: error: --target-loss expects a positive number, got '0'"
  "${LNET_AN_TRAIN} --target-loss 0")

# --method last-layer: one block; only the last layer is trained, every
# earlier parameter keeps its bytes (backprop, for contrast, changes them all)
set(LNET_AN_DIFF "python3 ${CMAKE_CURRENT_SOURCE_DIR}/analyses_ckpt_diff.py")
lnet_cli_test(analyses_last_layer_freezes 0
  "^\"method\":\"last-layer\",\"blocks\":1\\nsame: dense_0\\.b dense_0\\.w dense_1\\.b dense_1\\.w dense_2\\.b dense_2\\.w dense_3\\.b dense_3\\.w\\nchanged: dense_4\\.b dense_4\\.w\\nsame: \\nchanged: dense_0\\.b [^\\n]*dense_4\\.w\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; for m in last-layer backprop; do ${LNET_AN_TRAIN} --method $m --max-steps 1 --save $d/$m.1.ckpt --report $d/$m.json && ${LNET_AN_TRAIN} --method $m --max-steps 6 --save $d/$m.6.ckpt || exit 1; done; grep -o '\"method\":\"[^\"]*\",\"blocks\":[0-9]*' $d/last-layer.json && ${LNET_AN_DIFF} $d/last-layer.1.ckpt $d/last-layer.6.ckpt && ${LNET_AN_DIFF} $d/backprop.1.ckpt $d/backprop.6.ckpt")
# gradsim of last-layer: the trained layer's gradient is backprop's
lnet_cli_test(analyses_gradsim_last_layer 0
  "^step,block,layer,param,cosine\\n0,1,dense_4,dense_4\\.w,1\\n0,1,dense_4,dense_4\\.b,1\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${LNET_AN_GS} --method last-layer --out $d/g.csv >/dev/null && cat $d/g.csv")
lnet_cli_test(analyses_last_layer_needs_two_layers 1
  "error: last-layer trains the last layer only, but the model has one layer"
  "printf 'model one\\ninput x : f32[4]\\nlabel y : class[2]\\nloss cross_entropy(dense(x, 2), y)\\ntrain { data = fashion_mnist }\\n' > \${TMPDIR:-/tmp}/lnet_an_one.lnet; $<TARGET_FILE:lnet> ir \${TMPDIR:-/tmp}/lnet_an_one.lnet --method last-layer")
lnet_cli_test(analyses_gradsim_not_for_pipeline 1
  "lnet train: error: gradient similarity does not apply to --schedule pipeline"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${LNET_AN_TRAIN} --schedule pipeline --blocks 2 --max-steps 2 --gradsim-every 1 --gradsim-log $d/g.csv")
