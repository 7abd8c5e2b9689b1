# lnet cost --ranks R: the rank placement, the bytes of each link, the scaling
# model and its errors. The small MLP of tests/golden_local (batch 128, hidden
# width 8, chunked K=2: blocks [dense, dense] [dense, dense + loss]) sends per
# step a 320-byte header, 128 labels × 4 bytes = 512 and the boundary
# activation 128 × 8 × 4 = 4096 bytes: 4928 in all. Block 0 reads the data, so
# it runs on rank 1; rank 0 holds block 1 and the task head.
set(LNET_COST_MLP ${CMAKE_SOURCE_DIR}/tests/golden_local/mlp.lnet)
lnet_cli_test(cost_ranks_mlp_placement_and_link 0
  "\\n +0 +2 +54\\.9% +[0-9.]+ +2x1\\n +1 +1 +45\\.1% +[0-9.]+ +1x1\\n\\nlink .*\\nrank 1 -> 0 +4928 +320 +512 +4096 "
  "$<TARGET_FILE:lnet> cost ${LNET_COST_MLP} --ranks 2 --threads 1 --measure 0")
# Labels are padded to 64 bytes: batch 5 sends 20 bytes of labels as 64, plus
# 5 × 8 × 4 = 160 bytes of activation: 320 + 64 + 160 = 544.
lnet_cli_test(cost_ranks_labels_padded_to_64 0 "rank 1 -> 0 +544 +320 +64 +160 "
  "$<TARGET_FILE:lnet> cost ${LNET_COST_MLP} --ranks 2 --batch 5 --measure 0")
# A token model: every link carries the [N,6] labels (128 × 6 × 4 = 3072) and
# the [N,6,8] residual stream (128 × 6 × 8 × 4 = 24576). Its blocks are
# measured (token ids and labels filled in range) and the times printed as
# measured, one line per block.
lnet_cli_test(cost_ranks_measured_token_model 0
  "measured, median of 2 steps after 3 warm-up \\(JIT\\)\\nblock +step ms\\n +1 +[0-9]+\\.[0-9]{3}\\n +2 +[0-9]+\\.[0-9]{3}\\n(.|\\n)*rank 1 -> 0 +27968 +320 +3072 +24576 (.|\\n)*predicted throughput: [0-9]+ examples/s on 2 ranks; [0-9]+ on one rank"
  "$<TARGET_FILE:lnet> cost ${CMAKE_SOURCE_DIR}/tests/golden_local/transformer.lnet --ranks 2 --measure 2")
# ... and the JSON's block times are measured ones, not the FLOPs at the
# assumed rate (50 GFLOP/s) that --measure 0 uses.
lnet_cli_test(cost_ranks_measured_times_are_not_assumed 0 "measured json ok"
  "$<TARGET_FILE:lnet> cost ${CMAKE_SOURCE_DIR}/tests/golden_local/transformer.lnet --ranks 2 --measure 2 --json | python3 -c \"import json, sys; d = json.load(sys.stdin); r = d['ranks']; t = r['block_step_s']; a = [b['total_flops'] * d['batch'] / 50e9 for b in d['per_block']]; assert r['times'] == 'measured' and len(t) == 2 and all(x > 0 and abs(x - y) > 1e-3 * y for x, y in zip(t, a)), (t, a); print('measured json ok')\"")
# --measure 0: the times are the FLOPs at an assumed rate, and the output says so.
lnet_cli_test(cost_ranks_measure_0_says_assumed 0
  "step time of each block on one thread: assumed, not measured \\(its FLOPs at 50 GFLOP/s\\)(.|\\n)*assumed times\\)"
  "$<TARGET_FILE:lnet> cost ${LNET_COST_MLP} --ranks 2 --measure 0")
# The step is the slowest rank or link: at 1 KB/s (--link 1e-6) the link
# takes 4928 ms + 2 us, far above the work the 2 cores share.
lnet_cli_test(cost_ranks_link_bound 0
  "predicted step 4928\\.002 ms \\(slowest rank or link, assumed times\\); core sharing 1\\.00 \\(2 x 2 threads on 2 cores\\)"
  "$<TARGET_FILE:lnet> cost ${LNET_COST_MLP} --ranks 2 --threads 2 --cores 2 --link 1e-6 --measure 0")
# ... and no less than every block's work shared by the cores when the ranks
# ask for more threads than there are: 2 ranks on 1 core take the whole work.
lnet_cli_test(cost_ranks_cores_shared 0
  "core sharing (1\\.[0-9][1-9]|1\\.[1-9][0-9]|[2-9]\\.[0-9][0-9]) \\(2 x 1 threads on 1 cores\\)"
  "$<TARGET_FILE:lnet> cost ${LNET_COST_MLP} --ranks 2 --threads 1 --cores 1 --measure 0")
# Three ranks of greedy's four blocks: rank 0 holds the last two, each a
# worker of its own on --threads 2.
lnet_cli_test(cost_ranks_three_ranks_greedy 0
  "\\n +0 +3-4 +33\\.8% +[0-9.]+ +3x1 4x1\\n +1 +2 +26\\.1% +[0-9.]+ +2x2\\n +2 +1 +40\\.1% +[0-9.]+ +1x2\\n(.|\\n)*rank 2 -> 1 +4928 (.|\\n)*rank 1 -> 0 +4928 "
  "$<TARGET_FILE:lnet> cost ${LNET_COST_MLP} --method greedy --ranks 3 --threads 2 --measure 0")
lnet_cli_test(cost_ranks_json_keys 0 "ranks json ok"
  "$<TARGET_FILE:lnet> cost ${LNET_COST_MLP} --ranks 2 --measure 0 --json | python3 -c \"import json, sys; r = json.load(sys.stdin)['ranks']; l = r['links'][0]; assert (r['count'], r['times'], l['from_rank'], l['to_rank'], l['bytes'], l['label_bytes'], l['activation_bytes']) == (2, 'assumed', 1, 0, 4928, 512, 4096), r; assert [p['blocks'] for p in r['per_rank']] == [[2, 2], [1, 1]], r; assert r['examples_per_s'] > 0 and r['one_rank']['examples_per_s'] > 0 and len(r['block_step_s']) == 2; print('ranks json ok')\"")
# Errors: more ranks than blocks, a rank count out of range, a bad link, the
# rank options without --ranks.
lnet_cli_test(cost_ranks_more_ranks_than_blocks 1
  "^lnet cost: error: --ranks 3 needs at least 3 blocks; this model has 2 "
  "$<TARGET_FILE:lnet> cost ${LNET_COST_MLP} --ranks 3")
lnet_cli_test(cost_ranks_bad_numbers 1
  "^lnet cost: error: --ranks expects a whole number of ranks from 1 to 64, got '0'\\nlnet cost: error: --ranks expects a whole number of ranks from 1 to 64, got '1\\.5'\\nlnet cost: error: --link expects a bandwidth in GB/s above 0, got '0'\\nlnet cost: error: --latency applies to --ranks R\\n$"
  "L=$<TARGET_FILE:lnet>; $L cost ${LNET_COST_MLP} --ranks 0 && exit 0; $L cost ${LNET_COST_MLP} --ranks 1.5 && exit 0; $L cost ${LNET_COST_MLP} --ranks 2 --link 0 && exit 0; $L cost ${LNET_COST_MLP} --latency 3")
