# Partitioning as a research instrument (docs/language.md, `local` and `cut`):
# the balance objectives, conditional cuts in a repeat, user cuts filled up to
# K blocks, per-block heads, greedy with a block count, plug-in methods named
# in the model. Fixtures in tests/partition_l/.
set(PL_DIR ${CMAKE_CURRENT_SOURCE_DIR}/partition_l)
set(PL_LNET $<TARGET_FILE:lnet>)

# --- balance: balance.lnet's flops cut after layer 3, its memory cut after 2
lnet_cli_test(partition_l_balance_flops 0
  "balance = flops; each block's FLOPs per example: block 1 5\\.522 MFLOP, block 2 16\\.908 MFLOP\\n\\nobjective [^\\n]*\\nflops +3:relu@9:5 +75\\.4% / +24\\.6% +69\\.3% / +30\\.7%\\nmemory +2:relu@8:5 +83\\.6% / +16\\.4% +50\\.1% / +49\\.9%\\n$"
  "${PL_LNET} cost ${PL_DIR}/balance.lnet")
lnet_cli_test(partition_l_balance_memory_flag 0
  "bal[^\\n]*\\n\\nblock[^\\n]*\\n +1 +2\\.368 [^\\n]* 16\\.4% (.|\\n)*balance = memory; each block's activations kept for backward, per example: block 1 48\\.453 KB, block 2 48\\.203 KB\\n"
  "${PL_LNET} cost ${PL_DIR}/balance.lnet --balance memory")
lnet_cli_test(partition_l_balance_memory_key 0
  "balance = memory; each block's activations kept for backward, per example: block 1 48\\.453 KB, block 2 48\\.203 KB\\n"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; sed 's/blocks = 2 }/blocks = 2  balance = memory }/' ${PL_DIR}/balance.lnet > $d/m.lnet && ${PL_LNET} cost $d/m.lnet")
lnet_cli_test(partition_l_balance_bad_value 1
  "^m\\.lnet:12:49: error: bad value for 'balance': expected flops, memory or time, got 'speed'\\n[^\\n]*\\n {48}\\^\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; sed 's/blocks = 2 }/blocks = 2  balance = speed }/' ${PL_DIR}/balance.lnet > $d/m.lnet && cd $d && ${PL_LNET} check m.lnet")
lnet_cli_test(partition_l_balance_bad_flag 1
  "^lnet: error: --balance: unknown value 'speed' \\(expected one of: flops memory time\\)\\n$"
  "${PL_LNET} ir ${PL_DIR}/balance.lnet --balance speed")

# --- balance = time: measured once, then read from MODEL.times (keyed by the
# model, batch and machine); --remeasure and another batch measure again; the
# cached times decide the cut (rewritten here: the last two layers slow).
lnet_cli_test(partition_l_time_cache 0
  "^lnet: balance = time: measuring [^\\n]*m\\.lnet\\.times'\\)\\n(.|\\n)*time +[^\\n]*\\nSECOND\\nlnet: balance = time: 5 layer times from '[^']*m\\.lnet\\.times'\\n(.|\\n)*THIRD\\nlnet: balance = time: measuring (.|\\n)*FOURTH\\nlnet: balance = time: measuring (.|\\n)*FIFTH\\nlnet: balance = time: 5 layer times from (.|\\n)*\\ntime +4:relu@9:5 +[^\\n]*\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; cp ${PL_DIR}/time.lnet $d/m.lnet && ${PL_LNET} cost $d/m.lnet && echo SECOND && ${PL_LNET} cost $d/m.lnet && echo THIRD && ${PL_LNET} cost $d/m.lnet --remeasure && echo FOURTH && ${PL_LNET} cost $d/m.lnet --batch 64 | head -1 && echo FIFTH && awk 'NR<=2{print;next} NR>=6{print 1;next} {print 0.001}' $d/m.lnet.times > $d/t && mv $d/t $d/m.lnet.times && ${PL_LNET} cost $d/m.lnet --batch 64")

# --- cut every N / unless last: repeat_cut.lnet cuts only after iteration 2
lnet_cli_test(partition_l_cut_every_unless_last 0
  "repeat_cut: chunked, 2 blocks;(.|\\n)*\\nflops +3:relu@7:7 "
  "${PL_LNET} cost ${PL_DIR}/repeat_cut.lnet")
lnet_cli_test(partition_l_cut_every 0
  "repeat_cut: chunked, 3 blocks;(.|\\n)*\\nflops +3:relu@7:7 5:relu@7:7 "
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; sed 's/ unless last//' ${PL_DIR}/repeat_cut.lnet > $d/m.lnet && ${PL_LNET} cost $d/m.lnet")
lnet_cli_test(partition_l_cut_unless_last 0
  "repeat_cut: chunked, 4 blocks;"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; sed 's/ every 2//' ${PL_DIR}/repeat_cut.lnet > $d/m.lnet && ${PL_LNET} cost $d/m.lnet | head -1")
lnet_cli_test(partition_l_cut_every_outside_repeat 1
  "^m\\.lnet:6:7: error: 'every' needs an enclosing repeat \\(it counts its iterations\\)\\ncut h every 2\\n      \\^\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; printf 'input x : f32[4]\\nlabel y : class[2]\\nh = relu(dense(x, 3))\\nh = relu(dense(h, 3))\\nh = relu(dense(h, 3))\\ncut h every 2\\nloss cross_entropy(dense(h, 2), y)\\n' > $d/m.lnet && cd $d && ${PL_LNET} check m.lnet")
lnet_cli_test(partition_l_cut_every_zero 1
  "^m\\.lnet:8:15: error: 'every' needs a positive integer, got 0\\n  cut h every 0\\n +\\^\\nm\\.lnet:6:1: note: in iteration 1 of this repeat\\n"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; sed 's/every 2 unless last/every 0/' ${PL_DIR}/repeat_cut.lnet > $d/m.lnet && cd $d && ${PL_LNET} check m.lnet")
lnet_cli_test(partition_l_cut_unless_what 1
  "^m\\.lnet:8:24: error: expected 'last' after 'unless', got"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; sed 's/unless last/unless first/' ${PL_DIR}/repeat_cut.lnet > $d/m.lnet && cd $d && ${PL_LNET} check m.lnet")

# --- fewer user cuts than K - 1: the user's cut stays, the rest are chosen
lnet_cli_test(partition_l_cuts_filled 0
  "repeat_cut: chunked, 4 blocks;(.|\\n)*\\nflops +\\d:relu@\\d+:\\d+ 3:relu@7:7 \\d:relu@\\d+:\\d+ |flops +3:relu@7:7 \\d:relu@\\d+:\\d+ \\d:relu@\\d+:\\d+ |flops +\\d:relu@\\d+:\\d+ \\d:relu@\\d+:\\d+ 3:relu@7:7 "
  "${PL_LNET} cost ${PL_DIR}/repeat_cut.lnet --blocks 4")
lnet_cli_test(partition_l_cuts_too_many 1
  "^m\\.lnet:11:36: error: cannot split into 2 blocks: the model declares 4 cuts, which make 5 blocks \\(inside a repeat, `cut NAME every N` or `unless last` cuts fewer\\)\\nlocal \\{ method = chunked  blocks = 2 \\}\\n {35}\\^\\nm\\.lnet:7:7: note: the first cut is after this\\n  h = relu\\(dense\\(h, 64\\)\\)\\n      \\^\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; sed 's/ every 2 unless last//; s/method = chunked }/method = chunked  blocks = 2 }/' ${PL_DIR}/repeat_cut.lnet > $d/m.lnet && cd $d && ${PL_LNET} check m.lnet")

# --- heads: block 2's own head (wide: two dense layers), block 1's the common one
lnet_cli_test(partition_l_head_per_block 0
  "^head1\\.dense_0\\.w\\nhead2\\.dense_0\\.w\\nhead2\\.dense_1\\.w\\n$"
  "${PL_LNET} ir ${PL_DIR}/heads.lnet | grep -o 'head[0-9]\\.dense_[0-9]\\.w' | sort -u")
lnet_cli_test(partition_l_head_of_last_block 1
  "^m\\.lnet:15:61: error: head3: the model has 3 blocks, and only blocks 1 to 2 have an auxiliary head \\(the last block ends in the task loss\\)\\n"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; sed 's/head2 = wide/head3 = wide/' ${PL_DIR}/heads.lnet > $d/m.lnet && cd $d && ${PL_LNET} check m.lnet")
lnet_cli_test(partition_l_head_unknown_def 1
  "^m\\.lnet:15:61: error: unknown def 'wider' for 'head2'\\n"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; sed 's/head2 = wide/head2 = wider/' ${PL_DIR}/heads.lnet > $d/m.lnet && cd $d && ${PL_LNET} check m.lnet")

# --- greedy is one block per layer: a block count is an error
lnet_cli_test(partition_l_greedy_blocks 1
  "^[^\\n]*balance\\.lnet:12:1: error: --blocks does not apply to --method greedy \\(one block per layer: this model has 5 layers\\); drop --blocks, or use --method chunked --blocks 3\\n"
  "${PL_LNET} cost ${PL_DIR}/balance.lnet --method greedy --blocks 3")
lnet_cli_test(partition_l_greedy_file_blocks 0 "balance: greedy, 5 blocks;"
  "${PL_LNET} cost ${PL_DIR}/balance.lnet --method greedy")

# --- a plug-in's method named in the model, printed under its own name
set(PL_STAGES $<TARGET_FILE:lnet_plugin_stages>)
set(PL_RESNET "d=$(mktemp -d); trap 'rm -rf $d' EXIT; sed 's/^local.*/local { method = stages }/' ${CMAKE_SOURCE_DIR}/examples/fmnist_resnet.lnet > $d/m.lnet")
lnet_cli_test(partition_l_plugin_in_local 0 "^fmnist_resnet: stages, 2 blocks;"
  "${PL_RESNET} && ${PL_LNET} cost $d/m.lnet --load-pass ${PL_STAGES}")
lnet_cli_test(partition_l_plugin_not_loaded 1
  "^m\\.lnet:29:18: error: unknown method 'stages': expected backprop, greedy, chunked, overlap or a plug-in's method \\(none loaded; load one with --load-pass LIB\\)\\nlocal \\{ method = stages \\}\\n {17}\\^\\n$"
  "${PL_RESNET} && cd $d && ${PL_LNET} cost m.lnet")

# --- a checkpoint records the objective: fmnist_cnn in 3 blocks cuts elsewhere
# by memory than by FLOPs, and eval partitions as trained without --balance
set(PL_CNN "d=$(mktemp -d); trap 'rm -rf $d' EXIT; cp ${CMAKE_SOURCE_DIR}/examples/fmnist_cnn.lnet $d/m.lnet; ${PL_LNET} train $d/m.lnet --blocks 3 --balance memory --max-steps 1 --train-limit 128 --test-limit 32 --quiet --save $d/c.ckpt")
lnet_cli_test(partition_l_ckpt_adopts_balance 0 "^  task .*\\n  head1 .*\\n  head2 .*\\n$"
  "${PL_CNN} && ${PL_LNET} eval $d/m.lnet --load $d/c.ckpt --test-limit 32")
lnet_cli_test(partition_l_ckpt_other_balance 1
  "^lnet eval: error: [^ ]*/c\\.ckpt was trained with --method chunked --blocks 3 --balance memory, but "
  "${PL_CNN} && ${PL_LNET} eval $d/m.lnet --load $d/c.ckpt --test-limit 32 --balance flops")
