# lnet train --profile (runtime/profile.c, the hooks of codegen/lower.c).
set(LNET_PROF_LM "$<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/charlm.lnet --method backprop --threads 1 --max-steps 2 --batch 4 --test-limit 8")
# TMP CMD SUM: CMD's output, then the sum of its tables' share column.
set(LNET_PROF_TMP "d=$(mktemp -d) && trap 'rm -rf $d' EXIT &&")
set(LNET_PROF_SUM "> $d/o && cat $d/o && awk '/^profile/{p=1} p && $5 ~ /%$/ {s += $5} END {printf \"share sum %.0f\\n\", s}' $d/o")

# The table: a row per (phase, op) the transformer runs, in any order (by
# time), matrix products and attention among them; the shares add up to 100%.
lnet_cli_test(cli_profile_table 0
  "profile \\(kernel time [0-9.]+ ms\\)\\n  phase +op +calls +total ms +share +GFLOP/s +GB/s\\n(?=[\\s\\S]*forward +matmul_bias +50 )(?=[\\s\\S]*forward +causal_attention +8 )(?=[\\s\\S]*backward +attention_grad )(?=[\\s\\S]*update +adam_update )[\\s\\S]*share sum 100\\n"
  "${LNET_PROF_TMP} ${LNET_PROF_LM} --quiet --profile ${LNET_PROF_SUM}")
# The interpreter is profiled too, its nodes as the JIT's kernels.
lnet_cli_test(cli_profile_interp 0
  "forward +causal_attention +8 [\\s\\S]*share sum 100\\n"
  "${LNET_PROF_TMP} ${LNET_PROF_LM} --quiet --profile --exec interp ${LNET_PROF_SUM}")
# The local schedule: one table per block.
lnet_cli_test(cli_profile_local_blocks 0
  "profile of block 1 [\\s\\S]*profile of block 2 [\\s\\S]*share sum 200\\n"
  "${LNET_PROF_TMP} $<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --method chunked --blocks 2 --schedule local --threads 2 --max-steps 3 --train-limit 96 --test-limit 32 --batch 32 --quiet --profile ${LNET_PROF_SUM}")
# The report has the rows; without --profile neither the table nor the rows.
lnet_cli_test(cli_profile_report 0
  "\"profile\":\\[\\{\"block\":1,\"phase\":\"[a-z]+\",\"op\":\"[a-z_]+\",\"calls\":[0-9]+,\"ms\":[0-9.]+,\"share\":[0-9.]+,\"gflops\":[0-9.]+,\"gbs\":[0-9.]+\\}"
  "${LNET_PROF_TMP} ${LNET_PROF_LM} --quiet --profile --report $d/r.json > /dev/null && cat $d/r.json")
lnet_cli_test(cli_profile_off_by_default 0 "^no profile\\n$"
  "${LNET_PROF_TMP} ${LNET_PROF_LM} --quiet --report $d/r.json > $d/out && ! grep -q profile $d/out $d/r.json && echo no profile")
# Profiling only watches: the same losses and gradient norms, bit for bit.
lnet_cli_test(cli_profile_same_numbers 0 "^same\\n$"
  "${LNET_PROF_TMP} ${LNET_PROF_LM} --quiet --log $d/a.csv && ${LNET_PROF_LM} --quiet --profile --log $d/b.csv > /dev/null && grep ^train $d/a.csv | cut -d, -f7- > $d/a && grep ^train $d/b.csv | cut -d, -f7- > $d/b && test -s $d/a && cmp $d/a $d/b && echo same")
# --profile-clock cpu: the same table in each thread's CPU time, said in its
# title and in the report; it implies --profile; an unknown clock is refused.
lnet_cli_test(cli_profile_clock_cpu 0
  "^profile \\(kernel time [0-9.]+ ms, thread CPU time\\)\\n  phase +op +calls[\\s\\S]*share sum 100\\n\"profile_clock\":\"cpu\",\"profile\":\\[\\{\"block\":1,"
  "${LNET_PROF_TMP} ${LNET_PROF_LM} --quiet --profile-clock cpu --report $d/r.json ${LNET_PROF_SUM} && grep -oE '\"profile_clock\":\"cpu\",\"profile\":.{12}' $d/r.json")
lnet_cli_test(cli_profile_clock_wall_is_the_default 0 "^\"profile_clock\":\"wall\"\\n$"
  "${LNET_PROF_TMP} ${LNET_PROF_LM} --quiet --profile --report $d/r.json > /dev/null && grep -o '\"profile_clock\":\"wall\"' $d/r.json")
lnet_cli_test(cli_profile_clock_unknown 1
  "^lnet train: error: --profile-clock: unknown clock 'gpu' \\(expected: wall or cpu\\)\\n$"
  "${LNET_PROF_LM} --quiet --profile-clock gpu")
