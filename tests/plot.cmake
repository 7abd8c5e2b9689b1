# `lnet plot`: images of real (tiny) training runs. plot_runs trains once
# into the build tree — the MLP with a CSV and a JSON-lines step log, the CNN
# with a checkpoint — and every plot_* test draws from those files
# (FIXTURES_REQUIRED: ctest -R plot runs it first). Each test is an
# lnet_cli_test: exit status, output and no sanitizer report.

set(LNET_P_BIN "$<TARGET_FILE:lnet>")
set(LNET_P_RUNS "${CMAKE_CURRENT_BINARY_DIR}/plot_runs")
set(LNET_P_PNG "python3 ${CMAKE_CURRENT_SOURCE_DIR}/support/png_check.py")
set(LNET_P_TMP "d=$(mktemp -d); trap 'rm -rf $d' EXIT; r=${LNET_P_RUNS}")
set(LNET_P_MLP "${LNET_P_BIN} train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --train-limit 512 --test-limit 256 --eval-every 10 --quiet")

lnet_cli_test(plot_runs 0 ""
  "r=${LNET_P_RUNS}; rm -rf $r && mkdir -p $r && ${LNET_P_MLP} --max-steps 20 --log $r/mlp.csv && ${LNET_P_MLP} --max-steps 12 --log $r/mlp.json && ${LNET_P_BIN} train ${CMAKE_SOURCE_DIR}/examples/fmnist_cnn.lnet --max-steps 2 --train-limit 256 --test-limit 64 --quiet --save $r/cnn.ckpt && cp $r/cnn.ckpt $r/cnn_copy.ckpt")
set_tests_properties(plot_runs PROPERTIES FIXTURES_SETUP plot_runs)

# lnet_plot_test(NAME RC REGEX COMMAND): an lnet_cli_test that needs the runs.
function(lnet_plot_test name rc regex cmd)
  lnet_cli_test(${name} ${rc} "${regex}" "${cmd}")
  set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED plot_runs)
endfunction()

# ------------------------------------------------------------ training curves

# A CSV log: loss above test accuracy, a valid 1000 x 800 PNG.
lnet_plot_test(plot_csv_png 0 "^png 1000 800\\n$"
  "${LNET_P_TMP}; ${LNET_P_BIN} plot $r/mlp.csv -o $d/a.png && ${LNET_P_PNG} $d/a.png")
# An SVG: its legend names the run (--label) and each head's training and test curves.
lnet_plot_test(plot_svg_legend 0 "^svg\\nmine head1 test\\nmine head1 train\\nmine task test\\nmine task train\\n$"
  "${LNET_P_TMP}; ${LNET_P_BIN} plot $r/mlp.csv --label mine -o $d/a.svg && head -c 100 $d/a.svg | grep -q '^<?xml\\|^<svg' && echo svg && grep -o 'mine [a-z0-9]* t[a-z]*' $d/a.svg | sort -u")
# A JSON-lines log, labelled with its file name's stem; --metric loss: one panel.
lnet_plot_test(plot_json_lines 0 "^png 1000 500\\nmlp task train\\n$"
  "${LNET_P_TMP}; ${LNET_P_BIN} plot $r/mlp.json --metric loss -o $d/a.png && ${LNET_P_PNG} $d/a.png && ${LNET_P_BIN} plot $r/mlp.json -o $d/a.svg && grep -o 'mlp task train' $d/a.svg | sort -u")
# Two runs overlaid against examples seen, smoothed: both in the legend.
lnet_plot_test(plot_two_logs 0 "^a task train\\nb task train\\nexamples seen\\n$"
  "${LNET_P_TMP}; ${LNET_P_BIN} plot $r/mlp.csv $r/mlp.json --label a,b --x examples --smooth 5 --metric loss -o $d/a.svg && grep -o '[ab] task train\\|examples seen' $d/a.svg | sort -u")

# The numbers gnuplot is given (--keep-temps keeps them in $TMPDIR, here $d,
# and prints the folder: $k). Columns: step, seconds, examples, then the
# heads' training losses (run*_train.dat), or their test losses and
# accuracies (run*_eval.dat).
set(LNET_P_KEEP "k=$(TMPDIR=$d ${LNET_P_BIN} plot --keep-temps")
set(LNET_P_KEPT "| sed -n 's/.* kept in //p') && test -d \"$k\" || exit 9")
# --smooth 3: each training loss is the mean of the last 3 steps' (fewer at
# the start); examples = step x the batch (128) the log's rate implies.
lnet_plot_test(plot_smooth_values 0 "^smoothing ok 20\\nexamples ok 20\\n$"
  "${LNET_P_TMP}; ${LNET_P_KEEP} $r/mlp.csv --smooth 3 --x examples -o $d/a.png ${LNET_P_KEPT}; paste -d' ' <(grep ^train $r/mlp.csv | cut -d, -f7) $k/run0_train.dat | awk '{q[NR] = $1; s += $1; if (NR > 3) s -= q[NR - 3]; m = s / (NR < 3 ? NR : 3); if ((m - $5)^2 > 1e-10) bad = 1} END {print (bad ? \"smoothing wrong\" : \"smoothing ok\"), NR}'; awk '$3 != $1 * 128 {bad = 1} END {print (bad ? \"examples wrong\" : \"examples ok\"), NR}' $k/run0_train.dat")
# The same training read from its CSV log and from its JSON-lines log (a run
# of the same model and seed) gives the same numbers, step for step.
lnet_plot_test(plot_csv_json_same 0 "^same training rows 12\\nsame test rows 4\\n$"
  "${LNET_P_TMP}; ${LNET_P_KEEP} $r/mlp.csv $r/mlp.json -o $d/a.png ${LNET_P_KEPT}; cmp <(head -12 $k/run0_train.dat | cut -d' ' -f1,4-) <(cut -d' ' -f1,4- $k/run1_train.dat) && echo same training rows $(wc -l < $k/run1_train.dat) && cmp <(head -4 $k/run0_eval.dat | cut -d' ' -f1,4-) <(head -4 $k/run1_eval.dat | cut -d' ' -f1,4-) && echo same test rows 4")
# A log whose lines end in CRLF (copied through Windows) reads the same; its
# last column (here cut to loss_task) is read too.
lnet_plot_test(plot_crlf_log 0 "^same rows\\n$"
  "${LNET_P_TMP}; cut -d, -f1-7 $r/mlp.csv > $d/u.csv; sed 's/$/\\r/' $d/u.csv > $d/w.csv; ${LNET_P_KEEP} $d/u.csv $d/w.csv -o $d/a.svg ${LNET_P_KEPT}; cmp $k/run0_train.dat $k/run1_train.dat && cmp $k/run0_eval.dat $k/run1_eval.dat && echo same rows")

# --------------------------------------------------------------- bad inputs

lnet_plot_test(plot_not_a_log 1 "^lnet plot: error: [^\\n]*/fmnist_mlp\\.lnet:1: not an lnet step log"
  "${LNET_P_BIN} plot ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet -o /tmp/never.png")
lnet_plot_test(plot_bad_csv_row 1 "^lnet plot: error: [^\\n]*/b\\.csv:4: 3 fields, but the CSV header has 14\\n$"
  "${LNET_P_TMP}; head -3 $r/mlp.csv > $d/b.csv; echo train,3,0 >> $d/b.csv; ${LNET_P_BIN} plot $d/b.csv -o $d/a.png")
lnet_plot_test(plot_bad_number 1 "^lnet plot: error: [^\\n]*/b\\.csv:2: loss_task: 'abc' is not a number\\n$"
  "${LNET_P_TMP}; head -2 $r/mlp.csv | sed '2s/^\\(train,[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,\\)[^,]*/\\1abc/' > $d/b.csv; ${LNET_P_BIN} plot $d/b.csv -o $d/a.png")
lnet_plot_test(plot_bad_json 1 "^lnet plot: error: [^\\n]*/b\\.json:3: column 36: expected a number\\n$"
  "${LNET_P_TMP}; head -2 $r/mlp.json > $d/b.json; echo '{\"kind\":\"train\",\"step\":3,\"train_s\":x}' >> $d/b.json; ${LNET_P_BIN} plot $d/b.json -o $d/a.png")
lnet_plot_test(plot_unknown_columns 1 "^lnet plot: error: [^\\n]*/b\\.csv:1: the CSV header has no 'train_s' column\\n$"
  "${LNET_P_TMP}; printf 'kind,step,epoch,seconds,loss_task\\ntrain,1,0,0.5,2.3\\n' > $d/b.csv; ${LNET_P_BIN} plot $d/b.csv -o $d/a.png")
lnet_plot_test(plot_empty_log 1 "^lnet plot: error: [^\\n]*/e\\.csv: empty file: not an lnet step log\\nlnet plot: error: [^\\n]*/h\\.csv: no training or evaluation rows"
  "${LNET_P_TMP}; : > $d/e.csv; head -1 $r/mlp.csv > $d/h.csv; ${LNET_P_BIN} plot $d/e.csv -o $d/a.png; test $? = 1 || exit 9; ${LNET_P_BIN} plot $d/h.csv -o $d/a.png")
lnet_plot_test(plot_no_accuracy 1 "^lnet plot: error: nothing to plot: no test accuracy in the log"
  "${LNET_P_TMP}; grep -v ^eval $r/mlp.csv > $d/t.csv; ${LNET_P_BIN} plot $d/t.csv --metric accuracy -o $d/a.png")
lnet_plot_test(plot_without_gnuplot 1 "^lnet plot: error: gnuplot is not installed \\(or not on PATH\\): install it with 'sudo apt install gnuplot'\\n$"
  "${LNET_P_TMP}; env PATH=/nonexistent ${LNET_P_BIN} plot $r/mlp.csv -o $d/a.png; rc=$?; test -e $d/a.png && exit 9; exit $rc")
lnet_plot_test(plot_bad_output 1 "^lnet plot: error: -o [^\\n]*/a\\.jpg: the image type follows the extension: \\.png or \\.svg\\n$"
  "${LNET_P_TMP}; ${LNET_P_BIN} plot $r/mlp.csv -o $d/a.jpg")
# An output that is a directory, an input, or in a folder that is missing.
lnet_plot_test(plot_output_checks 1 "^lnet plot: error: -o [^\\n]*/sub\\.png is a directory; give a file name\\nlnet plot: error: -o [^\\n]*/f\\.png is the input '[^\\n]*/f\\.png'; choose another name\\nlnet plot: error: -o [^\\n]*/none/a\\.svg cannot be written: directory '[^\\n]*/none': No such file or directory\\n$"
  "${LNET_P_TMP}; mkdir $d/sub.png; ${LNET_P_BIN} plot $r/mlp.csv -o $d/sub.png; test $? = 1 || exit 9; ${LNET_P_BIN} plot filters $r/cnn.ckpt -o $d/f.png && ${LNET_P_BIN} plot filters $d/f.png -o $d/f.png; test $? = 1 || exit 9; ${LNET_P_BIN} plot $r/mlp.csv -o $d/none/a.svg")

# ---------------------------------------------------- gradient similarity

# The format `lnet train --gradsim-every N` writes: one row per parameter
# tensor per measurement; the plot draws each layer's mean.
set(LNET_P_GRADSIM "printf 'step,block,layer,param,cosine\\n10,1,dense_0,w,0.9\\n10,1,dense_0,b,0.7\\n10,2,dense_2,w,0.5\\n20,1,dense_0,w,0.6\\n20,1,dense_0,b,0.4\\n20,2,dense_2,w,0.3\\n' > $d/g.csv")
lnet_plot_test(plot_gradsim 0 "^png 1000 500\\ndense_0 \\(block 1\\)\\ndense_2 \\(block 2\\)\\n$"
  "${LNET_P_TMP}; ${LNET_P_GRADSIM}; ${LNET_P_BIN} plot gradsim $d/g.csv -o $d/g.png && ${LNET_P_PNG} $d/g.png && ${LNET_P_BIN} plot gradsim $d/g.csv -o $d/g.svg && grep -o 'dense_[0-9] (block [0-9])' $d/g.svg | sort -u")
# Each layer's mean over its parameters at each step; a nan cosine (a zero
# gradient) is left out of the mean.
lnet_plot_test(plot_gradsim_means 0 "^10 0\\.8\\n20 0\\.5\\n--\\n10 0\\.5\\n20 0\\.3\\n$"
  "${LNET_P_TMP}; ${LNET_P_GRADSIM}; echo 20,2,dense_2,b,nan >> $d/g.csv; ${LNET_P_KEEP} gradsim $d/g.csv -o $d/g.png ${LNET_P_KEPT}; cat $k/layer0.dat; echo --; cat $k/layer1.dat")
lnet_plot_test(plot_gradsim_bad 1 "^lnet plot: error: [^\\n]*/g\\.csv:8: cosine: not a number in \\[-1, 1\\] \\(nor nan\\)\\nlnet plot: error: [^\\n]*/mlp\\.csv:1: not a gradient-similarity log"
  "${LNET_P_TMP}; ${LNET_P_GRADSIM}; echo 30,1,dense_0,w,1.5 >> $d/g.csv; ${LNET_P_BIN} plot gradsim $d/g.csv -o $d/g.png; test $? = 1 || exit 9; ${LNET_P_BIN} plot gradsim $r/mlp.csv -o $d/g.png")

# -------------------------------------------------------------- conv filters

# The CNN's first conv weight (32, 1, 3, 3): a grid of cols = ceil(sqrt(32)) = 6
# by 6 tiles, each 3 x 3 enlarged 11 times (ceil(32 / 3)) = 33 pixels, with
# 1-pixel separators: 6 x 34 + 1 = 205 pixels square; each filter spans 0..255.
lnet_plot_test(plot_filters_png 0 "^png 205 205\\nfilters ok\\npng 1089 1089\\n$"
  "${LNET_P_TMP}; ${LNET_P_BIN} plot filters $r/cnn.ckpt -o $d/f.png && ${LNET_P_PNG} $d/f.png 32 6 6 33 33 && ${LNET_P_BIN} plot filters $r/cnn.ckpt --param conv2d_1.w -o $d/f.png && ${LNET_P_PNG} $d/f.png")
# Two checkpoints side by side (gnuplot, with their names): two 205-pixel
# panels, each with 100 pixels of margins.
lnet_plot_test(plot_filters_two 0 "^png 610 305\\n$"
  "${LNET_P_TMP}; ${LNET_P_BIN} plot filters $r/cnn.ckpt $r/cnn_copy.ckpt -o $d/f.png && ${LNET_P_PNG} $d/f.png")
lnet_plot_test(plot_filters_bad 1 "^lnet plot: error: [^\\n]*/mlp\\.safetensors: no conv weight \\(a 4-D F32 tensor\\) in the checkpoint\\nlnet plot: error: [^\\n]*/cnn\\.ckpt: 'conv2d_0\\.b' is not a conv weight"
  "${LNET_P_TMP}; ${LNET_P_BIN} plot filters ${CMAKE_SOURCE_DIR}/tests/fixtures/mlp.safetensors -o $d/f.png; test $? = 1 || exit 9; ${LNET_P_BIN} plot filters $r/cnn.ckpt --param conv2d_0.b -o $d/f.png")

# --eval train: the training-set evaluations (lnet train --eval-train N) in
# place of the test's — the numbers handed to gnuplot are the eval_train rows'
# — named so in the legend and on the axis.
lnet_cli_test(plot_eval_train 0 "^same rows\\nm task train-set eval\\ntraining-set accuracy\\nm task test\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${LNET_P_MLP} --max-steps 20 --eval-train 128 --log $d/m.csv && k=$(${LNET_P_BIN} plot $d/m.csv --eval train --metric accuracy -o $d/a.svg --keep-temps 2>&1 | sed -n 's/.* kept in //p') && grep ^eval_train, $d/m.csv | cut -d, -f2,7 | tr , ' ' > $d/want && awk '{print $1, $4}' $k/run0_eval.dat > $d/got && rm -rf $k && cmp -s $d/want $d/got && echo same rows && grep -o 'm task train-set eval' $d/a.svg | sort -u && grep -o 'training-set accuracy' $d/a.svg | sort -u && ${LNET_P_BIN} plot $d/m.csv --metric accuracy -o $d/b.svg && grep -o 'm task test' $d/b.svg | sort -u")
