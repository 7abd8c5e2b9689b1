# Distributed runs on Open MPI (tools/mpi.c, runtime/dist.c, the local
# schedule's sender and receiver): `mpirun -np R lnet train` trains the same
# bits as the threaded and sequential schedules (checkpoints byte for byte,
# every logged loss), resumes across process counts, goes over TCP, and stops
# every rank when one fails or dies. Ranks oversubscribe the 2 cores.
if(NOT LNET_HAVE_MPI)
  return()
endif()

# (each run under a timeout: a protocol bug must fail, not hang, a test)
set(LNET_MPIRUN "timeout 120 ${MPIEXEC_EXECUTABLE} --allow-run-as-root --oversubscribe")
set(LNET_MPI_TC "bash ${CMAKE_CURRENT_SOURCE_DIR}/support/train_compare.sh $<TARGET_FILE:lnet> ${CMAKE_SOURCE_DIR}/examples")
set(LNET_MPI_MLP "--exec jit --train-limit 1280 --test-limit 128 --max-steps 6 --eval-every 3")

# 2 ranks (one block group each, one thread) == the threaded local schedule
# on 2 cores (one worker per group, one thread each)
lnet_cli_test(mpi_mlp_chunked_2_ranks_equals_threaded 0 "the same training: 6 steps"
  "LAUNCH_B='${LNET_MPIRUN} -np 2' ${LNET_MPI_TC}/fmnist_mlp.lnet '${LNET_MPI_MLP} --method chunked --blocks 2' '--threads 2' '--threads 1'")
# 3 ranks on 4 blocks (groups of 2, 1, 1) == the sequential schedule
lnet_cli_test(mpi_mlp_chunked_3_ranks_equals_sequential 0 "the same training: 6 steps"
  "LAUNCH_B='${LNET_MPIRUN} -np 3' ${LNET_MPI_TC}/fmnist_mlp.lnet '${LNET_MPI_MLP} --method chunked --blocks 4 --threads 1' '--schedule sequential' ''")
# overlap: the shared parameters cross ranks backward, delay 1 as threaded
lnet_cli_test(mpi_mlp_overlap_4_ranks_equals_sequential 0 "the same training: 6 steps"
  "LAUNCH_B='${LNET_MPIRUN} -np 4' ${LNET_MPI_TC}/fmnist_mlp.lnet '${LNET_MPI_MLP} --method overlap --threads 1' '--schedule sequential --overlap-delay 1' ''")
lnet_cli_test(mpi_mlp_overlap_2_ranks_equals_threaded 0 "the same training: 6 steps"
  "LAUNCH_B='${LNET_MPIRUN} -np 2' ${LNET_MPI_TC}/fmnist_mlp.lnet '${LNET_MPI_MLP} --method overlap' '--threads 2' '--threads 1'")
# the CNN, with activations over TCP (no shared memory), as between machines
lnet_cli_test(mpi_cnn_2_ranks_over_tcp_equals_threaded 0 "the same training: 4 steps"
  "LAUNCH_B='${LNET_MPIRUN} -np 2 --mca btl tcp,self' ${LNET_MPI_TC}/fmnist_cnn.lnet '--exec jit --method chunked --blocks 2 --train-limit 256 --test-limit 64 --max-steps 4 --batch 32' '--threads 2' '--threads 1'")
lnet_cli_test(mpi_cnn_3_ranks_equals_sequential 0 "the same training: 4 steps"
  "LAUNCH_B='${LNET_MPIRUN} -np 3' ${LNET_MPI_TC}/fmnist_cnn.lnet '--exec jit --method chunked --blocks 3 --train-limit 256 --test-limit 64 --max-steps 4 --batch 32 --threads 1' '--schedule sequential' ''")
# a checkpoint written by 2 ranks resumes in one process, and one written in
# one process resumes on 2 ranks, as if never stopped
lnet_cli_test(mpi_checkpoint_resumes_in_one_process 0 "the same training: 8 steps"
  "LAUNCH_B1='${LNET_MPIRUN} -np 2' ${LNET_MPI_TC}/fmnist_mlp.lnet '--exec jit --method chunked --blocks 2 --train-limit 1280 --test-limit 128 --max-steps 8 --eval-every 3 --threads 1' '' '' 5")
lnet_cli_test(mpi_one_process_checkpoint_resumes_on_2_ranks 0 "the same training: 8 steps"
  "LAUNCH_B2='${LNET_MPIRUN} -np 2' ${LNET_MPI_TC}/fmnist_mlp.lnet '--exec jit --method chunked --blocks 2 --train-limit 1280 --test-limit 128 --max-steps 8 --eval-every 3 --threads 1' '' '' 5")

# rank 0 reports every rank's workers with what each sent
lnet_cli_test(mpi_report_has_every_rank 0 "report ok"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${LNET_MPIRUN} -np 2 $<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet ${LNET_MPI_MLP} --threads 1 --quiet --report $d/r.json && cat $d/r.json && grep -q '\"ranks\":2' $d/r.json && grep -q '\"worker\":1,\"blocks\":\\[1,1\\],[^}]*\"rank\":1,\"bytes_sent\":3150720,' $d/r.json && grep -q '\"worker\":2,\"blocks\":\\[2,2\\],[^}]*\"rank\":0,\"bytes_sent\":0,' $d/r.json && echo report ok")

# faults: a rank's error stops every rank with its message; a killed rank
# ends the job; nothing hangs (the timeouts)
lnet_cli_test(mpi_rank_error_stops_every_rank 1 "lnet: rank 1: error: loss 'head1' \\(block 1\\) is (NaN|infinite) at step"
  "${LNET_MPIRUN} -np 2 $<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --method chunked --blocks 2 --threads 1 --optimizer sgd --lr 1e30 --train-limit 1280 --quiet")
lnet_cli_test(mpi_killed_rank_ends_the_job 0 "job ended: 137"
  "${LNET_MPIRUN} -np 2 bash -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 0 ]; then (sleep 3; kill -9 $$) & fi; exec $<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --method chunked --blocks 2 --threads 1 --quiet'; echo job ended: $?")
set_tests_properties(mpi_rank_error_stops_every_rank mpi_killed_rank_ends_the_job
  PROPERTIES TIMEOUT 90)

# what a distributed run refuses, with the reason
lnet_cli_test(mpi_more_ranks_than_blocks_refused 1 "3 ranks need at least 3 blocks, but the model has 2"
  "${LNET_MPIRUN} -np 3 $<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --method chunked --blocks 2 --max-steps 1 --quiet")
lnet_cli_test(mpi_other_schedules_refused 1 "--schedule sequential runs in one process; under mpirun with 2 ranks"
  "${LNET_MPIRUN} -np 2 $<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --schedule sequential --max-steps 1 --quiet")
lnet_cli_test(mpi_eval_refused 1 "lnet eval runs in one process: start it without mpirun"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; $<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --max-steps 1 --train-limit 256 --test-limit 32 --quiet --save $d/c.ckpt && ${LNET_MPIRUN} -np 2 $<TARGET_FILE:lnet> eval ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --load $d/c.ckpt")
# one rank under mpirun is a plain run
lnet_cli_test(mpi_one_rank_is_a_plain_run 0 "fmnist_mlp: 2 steps"
  "${LNET_MPIRUN} -np 1 $<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --max-steps 2 --train-limit 256 --test-limit 32")

# hybrid local x data parallelism: --replicas P copies of each block group
# split the batch and sum their gradients in replica order. With one block
# that is the data-parallel baseline, bit for bit (same order, same scale);
# with two groups x two replicas, a run equals its repeat bit for bit.
lnet_cli_test(mpi_replicas_2_one_block_equals_data_parallel 0 "the same training: 6 steps"
  "LAUNCH_B='${LNET_MPIRUN} -np 2' ${LNET_MPI_TC}/fmnist_mlp.lnet '${LNET_MPI_MLP} --method backprop' '--schedule data-parallel --threads 2' '--replicas 2 --threads 1'")
lnet_cli_test(mpi_replicas_2_of_2_groups_repeat_bit_for_bit 0 "the same training: 6 steps"
  "LAUNCH_A='${LNET_MPIRUN} -np 4' LAUNCH_B='${LNET_MPIRUN} -np 4' ${LNET_MPI_TC}/fmnist_mlp.lnet '${LNET_MPI_MLP} --method chunked --blocks 2 --replicas 2 --threads 1' '' ''")
lnet_cli_test(mpi_replicas_must_divide_ranks 1 "--replicas 2: the 3 ranks \\(mpirun -np\\) must be a multiple of the replicas"
  "${LNET_MPIRUN} -np 3 $<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --replicas 2 --max-steps 1 --quiet")
lnet_cli_test(mpi_replicas_must_divide_batch 1 "--replicas 2: the batch of 25 must be a multiple of the replicas"
  "${LNET_MPIRUN} -np 2 $<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --replicas 2 --batch 25 --max-steps 1 --quiet")
lnet_cli_test(mpi_replicas_need_mpirun 1 "--replicas 2 applies to a distributed run: start it with mpirun -np R"
  "$<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --replicas 2 --max-steps 1 --quiet")

# lnet build --mpi: a trainer that runs under mpirun as lnet train does (the
# same bits as the threaded schedule); a trainer built without it says so
lnet_cli_test(mpi_built_trainer_equals_threaded 0 "same checkpoint"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; m=${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet; f='--method chunked --blocks 2 --train-limit 1280 --test-limit 128 --max-steps 6 --quiet'; $<TARGET_FILE:lnet> build $m --mpi -o $d/t --quiet && $<TARGET_FILE:lnet> train $m $f --threads 2 --save $d/a.ckpt && ${LNET_MPIRUN} -np 2 $d/t $f --threads 1 --save $d/b.ckpt && cmp $d/a.ckpt $d/b.ckpt && echo same checkpoint")
lnet_cli_test(mpi_plain_trainer_refuses_ranks 1 "error: started by mpirun as one of 2 ranks, but this program was built without MPI \\(a trainer: build it with 'lnet build --mpi'"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; $<TARGET_FILE:lnet> build ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet -o $d/t --quiet && ${LNET_MPIRUN} -np 2 $d/t --max-steps 1 --quiet")


# SIGTERM to every rank (what a batch scheduler sends a job's processes; not
# to mpirun, which would pass it on again later and kill a rank mid-save):
# the data rank stops feeding, the batches in flight finish, the ranks agree,
# rank 0 saves; the checkpoint loads. Also a signal to rank 0 alone, which
# stops at the next evaluation point (--eval-every 20).
lnet_cli_test(mpi_sigterm_saves_a_checkpoint 0 "stopped by SIGTERM after step [0-9]+; checkpoint saved(.|\\n)*task +loss"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; m=${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet; ${MPIEXEC_EXECUTABLE} --allow-run-as-root --oversubscribe -np 2 $<TARGET_FILE:lnet> train $m --threads 1 --save $d/c.ckpt --log $d/l.jsonl --eval-every 20 --test-limit 256 --quiet & p=$!; for i in $(seq 600); do [ -s $d/l.jsonl ] && break; sleep 0.1; done; kill -TERM $(pgrep -f -- \"--save $d/c.ckpt\" | while read q; do grep -qz '^OMPI_COMM_WORLD_RANK=' /proc/$q/environ && echo $q; done); wait $p; echo rc=$?; $<TARGET_FILE:lnet> eval $m --load $d/c.ckpt --test-limit 256")
lnet_cli_test(mpi_sigterm_to_rank_0_stops_at_the_next_evaluation 0 "stopped by SIGTERM after step [0-9]*[02468]0; checkpoint saved"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; m=${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet; ${MPIEXEC_EXECUTABLE} --allow-run-as-root --oversubscribe -np 2 $<TARGET_FILE:lnet> train $m --threads 1 --save $d/c.ckpt --log $d/l.jsonl --eval-every 20 --test-limit 256 --quiet & p=$!; for i in $(seq 600); do [ -s $d/l.jsonl ] && break; sleep 0.1; done; kill -TERM $(pgrep -f -- \"--save $d/c.ckpt\" | while read q; do grep -qz '^OMPI_COMM_WORLD_RANK=0$' /proc/$q/environ && echo $q; done); wait $p; echo rc=$?")
set_tests_properties(mpi_sigterm_saves_a_checkpoint mpi_sigterm_to_rank_0_stops_at_the_next_evaluation
  PROPERTIES TIMEOUT 120)

# Open MPI itself leaks at exit (and unloads the plugins that allocated, so
# the stacks cannot be suppressed by name): the ASan build runs these tests
# without LeakSanitizer, every other ASan check on. Leaks in lnet's own code
# are caught by the single-process tests.
get_property(lnet_mpi_tests DIRECTORY PROPERTY TESTS)
foreach(t ${lnet_mpi_tests})
  if(t MATCHES "^mpi_")
    set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
  endif()
endforeach()
