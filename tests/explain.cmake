# Explaining a partition (issue 14): `lnet cost --layers` lists every layer
# with its source line, its chain of def calls and repeat iterations, and its
# costs, and says where each block starts and why (a user cut, or the
# method's rule or dynamic program); `lnet ir` and `lnet dot` mark user and
# automatic cuts; errors in a def body point at the call; blocks are
# numbered from 1 wherever a user sees them.
set(LNET_EXPLAIN ${CMAKE_CURRENT_SOURCE_DIR}/explain)

# greedy on fmnist_cnn (a def called four times, one user cut): every layer,
# the def's line with the call it came from, each block's reason.
lnet_cli_test(explain_cost_layers_marks_block_starts 0
  "\\n-- block 1 \\(layer 1\\): starts the model\\n +1 +%0-%7 +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+  conv2d +9:37 < conv@12:5  def conv\\(x, channels\\)[^\\n]*\\n-- block 2 \\(layer 2\\): after %7 \\(9:32 < conv@12:5\\): automatic: greedy makes one block per layer\\n +2 +%8-%13 [^\\n]* 9:37 < conv@13:5 [^\\n]*\\n-- block 3 \\(layer 3\\): after %13 \\(14:5\\): user cut\\n +3 [^\\n]* 9:37 < conv@16:5 (.|\\n)*\\n +5 +%26-%30 [^\\n]*matmul +19:20  loss cross_entropy"
  "$<TARGET_FILE:lnet> cost ${CMAKE_SOURCE_DIR}/examples/fmnist_cnn.lnet --method greedy --layers")
# chunked on fmnist_resnet (a def called in two repeats): the chain tells the
# calls and iterations apart; the dynamic program chose the cuts.
lnet_cli_test(explain_cost_layers_chain_and_dynamic_program 0
  "\\n-- block 2 \\(layer 2\\): after %7 \\(14:5\\): automatic: chunked's dynamic program [^\\n]*\\n +2 [^\\n]* 9:14 < block@15:25 < repeat@15:1#1  h = relu[^\\n]*\\n-- block 3 [^\\n]*\\n +3 [^\\n]* 9:14 < block@15:25 < repeat@15:1#2 [^\\n]*\\n-- block 4 \\(layers 4-6\\)[^\\n]*\\n +4 [^\\n]* 9:14 < block@17:25 < repeat@17:1#1 (.|\\n)*costliest block: [0-9.]+ MFLOP"
  "$<TARGET_FILE:lnet> cost ${CMAKE_SOURCE_DIR}/examples/fmnist_resnet.lnet --layers")
# ... and in --json: every layer (blocks and layers from 1), each block start.
lnet_cli_test(explain_cost_layers_json 0 "layers json ok"
  "$<TARGET_FILE:lnet> cost ${CMAKE_SOURCE_DIR}/examples/fmnist_cnn.lnet --method greedy --layers --json | python3 -c \"import json, sys; d = json.load(sys.stdin); L = d['layers']; S = d['block_starts']; assert [l['layer'] for l in L] == [1, 2, 3, 4, 5] and [l['block'] for l in L] == [1, 2, 3, 4, 5], L; assert (L[1]['op'], L[1]['line'], L[1]['source']) == ('conv2d', 9, '9:37 < conv@13:5') and L[1]['fwd_flops'] > 0 and L[4]['op'] == 'matmul', L; assert 'cut' not in S[0] and (S[1]['cut'], S[1]['reason']) == ('auto', 'automatic: greedy makes one block per layer') and (S[2]['cut'], S[2]['after_node'], S[2]['reason']) == ('user', 13, 'user cut'), S; print('layers json ok')\"")
# lnet ir: the user's cut and the method's, and the call chain of a def's nodes.
lnet_cli_test(explain_ir_marks_user_and_auto_cuts 0
  "\\n%7 = relu %6 : f32\\[N,32,28,28\\]  @b1  cut=auto  ; 9:32 < conv@12:5\\n(.|\\n)*\\n%20 = maxpool %19 [^\\n]*  @b2  cut=user  ; 14:5\\n"
  "$<TARGET_FILE:lnet> ir ${CMAKE_SOURCE_DIR}/examples/fmnist_cnn.lnet --method greedy")
# lnet dot: blocks from 1, one colour each, cut marks, and a legend.
lnet_cli_test(explain_dot_has_legend_and_cut_marks 0
  "subgraph cluster_b1 \\{\\n    label=\"block 1\";\\n    style=\"rounded,filled\";\\n    fillcolor=[a-z]+;(.|\\n)*cut \\(user\\)\", fillcolor=white, penwidth=3\\];(.|\\n)*\\n  legend \\[shape=note[^\\n]*dashed edge: a value another block reads[^\\n]*cut \\(auto\\): the method chose this cut"
  "$<TARGET_FILE:lnet> dot ${CMAKE_SOURCE_DIR}/examples/fmnist_cnn.lnet")
# An error in a def's body names the call that failed (the second of two),
# with a caret at it; in a repeat, the iteration too.
lnet_cli_test(explain_def_error_points_at_the_call 1
  "^[^\\n]*def_twice.lnet:8:14: error: shape mismatch in add: f32\\[N,4\\] vs f32\\[N,5\\]\\n    return x \\+ w\\n             \\^\\n[^\\n]*def_twice.lnet:13:5: note: in 'proj' called here\\nc = proj\\(b, dense\\(b, 5\\)\\)\\n    \\^\\n$"
  "$<TARGET_FILE:lnet> check ${LNET_EXPLAIN}/def_twice.lnet")
lnet_cli_test(explain_def_error_in_repeat_names_the_iteration 1
  "repeat_call.lnet:8:14: error: shape mismatch in add: f32\\[N,4\\] vs f32\\[N,6\\]\\n[^\\n]*\\n[^\\n]*\\n[^\\n]*repeat_call.lnet:13:16: note: in 'grow' called here, iteration 1 of the repeat at 13:1\\nrepeat 2 \\{ x = grow\\(x, 6\\) \\}\\n               \\^\\n$"
  "$<TARGET_FILE:lnet> check ${LNET_EXPLAIN}/repeat_call.lnet")
# One numbering: no block 0 in cost (table, --threads, --json), ir, dot, the
# training log and the report; block 1 in each.
lnet_cli_test(explain_blocks_numbered_from_one 0 "numbering ok"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; l=$<TARGET_FILE:lnet>; m=${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet; h=${CMAKE_CURRENT_SOURCE_DIR}/health/dead_block.lnet; $l cost $m --method greedy --threads 2 > $d/cost && $l cost $m --json > $d/json && $l ir $m --method greedy > $d/ir && $l dot $m > $d/dot && $l train $h --max-steps 2 --train-limit 128 --test-limit 64 --quiet --threads 1 --log $d/log.jsonl --report $d/r.json > $d/train 2>&1 || exit 1; cat $d/*; grep -Eq '^ +1 +[0-9.]+ ' $d/cost && grep -Eq '^ +1 +1-2 +1 ' $d/cost && grep -q '\"block\":1,' $d/json && grep -q '@b1 ' $d/ir && grep -q 'label=\"block 1\"' $d/dot && grep -q '\"block\":1,' $d/log.jsonl || exit 2; ! grep -Eq '^ +0 +[0-9]' $d/cost && ! grep -Eq '\"block\":0|\"blocks\":\\[0|@b0|block 0|cluster_b0' $d/* && echo numbering ok")
# An error a pass raises inside a def (here partition's: a cut the skip path
# crosses) names the call, as the frontend's errors do.
lnet_cli_test(explain_pass_error_in_def_names_the_call 1
  "cut_in_def.lnet:7:9: error: cannot cut here: 2 tensors cross this point[^\\n]*\\n    h = relu[^\\n]*\\n        \\^\\n[^\\n]*cut_in_def.lnet:14:5: note: in 'block' called here\\nx = block\\(x\\)\\n    \\^\\n$"
  "$<TARGET_FILE:lnet> check ${LNET_EXPLAIN}/cut_in_def.lnet")
