# User data sets: NumPy .npy files (data = npy(x, y, test_x, test_y)), the
# CIFAR-10/100 binary files, augmentation (crop, flip) and the input
# normalization. The files are written into a fresh folder by
# tests/npy/write_npy.py (no numpy needed); the models are tests/npy/*.lnet.
set(LNET_NPY_DIR ${CMAKE_CURRENT_SOURCE_DIR}/npy)
set(LNET_NPY_GEN "python3 ${LNET_NPY_DIR}/write_npy.py")
set(LNET_NPY_TMP "d=$(mktemp -d) && trap 'rm -rf $d' EXIT")
set(LNET_NPY_TRAIN "$<TARGET_FILE:lnet> train ${LNET_NPY_DIR}/blobs.lnet --data-dir $d --quiet")

# A separable problem of four classes trains far above chance (25%), with the
# files next to the model (relative names start at the model's folder), for
# every example type; the report records the normalization it computed.
foreach(t f4 f8 u1)
  lnet_cli_test(npy_blobs_${t}_train_above_chance 0
    "^\\{\"model\":\"blobs\",\"norm\":\\{\"mean\":0\\.[0-9]+,\"std\":0\\.[0-9]+,\"computed\":true\\}[^\\n]*\"final\":\\{[^}]*\"test_accuracy\":(0\\.9[0-9]*|1),"
    "${LNET_NPY_TMP} && ${LNET_NPY_GEN} blobs $d 400 100 ${t} && cp ${LNET_NPY_DIR}/blobs.lnet $d && $<TARGET_FILE:lnet> train $d/blobs.lnet --quiet --report $d/r.json && cat $d/r.json")
endforeach()
# mean and std written in the model are used as they are
lnet_cli_test(npy_declared_norm_is_reported 0
  "\"norm\":\\{\"mean\":0\\.5,\"std\":0\\.25,\"computed\":false\\}"
  "${LNET_NPY_TMP} && ${LNET_NPY_GEN} blobs $d 64 16 f4 && sed 's/seed      = 3/seed = 3  mean = 0.5  std = 0.25/' ${LNET_NPY_DIR}/blobs.lnet > $d/blobs.lnet && $<TARGET_FILE:lnet> train $d/blobs.lnet --quiet --max-steps 1 --report $d/r.json && cat $d/r.json")

# Every malformed file is refused with what is wrong, before training.
set(LNET_NPY_BAD "${LNET_NPY_TMP} && ${LNET_NPY_GEN} blobs $d 20 8 f4 && ${LNET_NPY_GEN} bad $d")
foreach(case
    "magic|/x.npy: not a .npy file \\(no \\\\x93NUMPY magic\\)"
    "truncated|/x.npy: header says shape \\(20, 3, 8, 8\\) of float32 \\(15360 bytes\\) but the file holds 15260 bytes of data"
    "fortran|/x.npy: is in Fortran order: save it in C order"
    "dtype|/x.npy: examples are int32: they must be float32, float64 or uint8"
    "bigendian|/x.npy: dtype '>f4' is big-endian"
    "shape|/x.npy: has shape \\(20, 192\\), but the model's input takes \\(20, 3, 8, 8\\)"
    "header|/x.npy: header of 1073741824 bytes is too long \\(at most 1048576\\)"
    "version|/x.npy: .npy version 4.0 is not supported"
    "dict|/x.npy: malformed header: bad shape"
    "labels|/y.npy: label 9 of example 19 is out of range \\[0, 4\\)")
  string(REPLACE "|" ";" parts "${case}")
  list(GET parts 0 kind)
  list(GET parts 1 msg)
  lnet_cli_test(npy_malformed_${kind}_is_refused 1 "^lnet train: error: [^\\n]*${msg}"
    "${LNET_NPY_BAD} ${kind} && ${LNET_NPY_TRAIN}")
endforeach()
lnet_cli_test(npy_missing_file_is_refused 1
  "^lnet train: error: [^\\n]*/xt.npy: cannot open: No such file or directory"
  "${LNET_NPY_TMP} && ${LNET_NPY_GEN} blobs $d 20 8 f4 && rm $d/xt.npy && ${LNET_NPY_TRAIN}")
lnet_cli_test(npy_label_count_mismatch_is_refused 1
  "^lnet train: error: [^\\n]*/yt.npy: labels have shape \\(20,\\), but [^\\n]*/xt.npy holds 8 examples: expected \\(8,\\)"
  "${LNET_NPY_TMP} && ${LNET_NPY_GEN} blobs $d 20 8 f4 && cp $d/y.npy $d/yt.npy && ${LNET_NPY_TRAIN}")

# The data key's spelling is checked where it is written.
lnet_cli_test(npy_argument_must_be_a_string 1
  "error: argument 'test_y' of 'npy' must be a file name in quotes"
  "${LNET_NPY_TMP} && sed 's/test_y = \"yt.npy\"/test_y = 3/' ${LNET_NPY_DIR}/blobs.lnet > $d/m.lnet && $<TARGET_FILE:lnet> check $d/m.lnet")
lnet_cli_test(npy_unknown_data_set_lists_npy 1
  "bad value for 'data': expected fashion_mnist, mnist, text, cifar10, cifar100 or npy\\(x = \"x.npy\""
  "${LNET_NPY_TMP} && sed 's/data      = npy.*/data = cifar/' ${LNET_NPY_DIR}/blobs.lnet > $d/m.lnet && $<TARGET_FILE:lnet> check $d/m.lnet")

# CIFAR-10 (five training files and a test file) and CIFAR-100 (two label
# bytes per record) on generated files; a file of a partial record is refused.
lnet_cli_test(cifar10_generated_files_train 0 "\"steps\":62,[^\\n]*\"final\":\\{[^}]*\"test_accuracy\":(0\\.9[0-9]*|1),"
  "${LNET_NPY_TMP} && ${LNET_NPY_GEN} cifar $d 200 && $<TARGET_FILE:lnet> train ${LNET_NPY_DIR}/cifar.lnet --data-dir $d --quiet --report $d/r.json && cat $d/r.json")
lnet_cli_test(cifar100_generated_files_train 0 "\"steps\":12,"
  "${LNET_NPY_TMP} && ${LNET_NPY_GEN} cifar $d 200 100 && sed 's/cifar10$/cifar100/; s/class\\[10\\]/class[100]/; s/flatten(x), 10)/flatten(x), 100)/' ${LNET_NPY_DIR}/cifar.lnet > $d/m.lnet && $<TARGET_FILE:lnet> train $d/m.lnet --data-dir $d --quiet --report $d/r.json && cat $d/r.json")
lnet_cli_test(cifar_partial_record_is_refused 1
  "^lnet train: error: [^\\n]*/data_batch_3.bin: holds 615000 bytes, not a whole number of 3073-byte records"
  "${LNET_NPY_TMP} && ${LNET_NPY_GEN} cifar $d 200 && truncate -s 615000 $d/data_batch_3.bin && $<TARGET_FILE:lnet> train ${LNET_NPY_DIR}/cifar.lnet --data-dir $d --quiet")
lnet_cli_test(cifar_wrong_input_shape_is_refused 1
  "error: data 'cifar10' feeds an f32\\[3,32,32\\] input and a class\\[10\\] label"
  "${LNET_NPY_TMP} && sed 's/npy(.*/cifar10/' ${LNET_NPY_DIR}/blobs_aug.lnet > $d/m.lnet && $<TARGET_FILE:lnet> train $d/m.lnet --data-dir $d --quiet")

# Augmentation draws from (seed, epoch, example) alone: the threaded local
# schedule equals the sequential one, and a run stopped mid-epoch and resumed
# equals one straight run (checkpoints byte for byte, losses).
set(LNET_NPY_TC "bash ${CMAKE_CURRENT_SOURCE_DIR}/support/train_compare.sh $<TARGET_FILE:lnet> ${LNET_NPY_DIR}/blobs_aug.lnet")
lnet_cli_test(npy_augment_local_equals_sequential 0 "the same training: 50 steps"
  "${LNET_NPY_TMP} && ${LNET_NPY_GEN} blobs $d 400 100 f4 && ${LNET_NPY_TC} '--data-dir '$d' --exec jit --threads 2' '--schedule local' '--schedule sequential'")
lnet_cli_test(npy_augment_resume_equals_straight_run 0 "the same training: 50 steps"
  "${LNET_NPY_TMP} && ${LNET_NPY_GEN} blobs $d 400 100 u1 && ${LNET_NPY_TC} '--data-dir '$d' --exec jit --threads 2' '' '' 37")
lnet_cli_test(npy_augment_needs_an_image_input 1
  "error: crop and flip augment images: input 'image' must be f32\\[C,H,W\\] or f32\\[H,W\\], it has 1 dims per example"
  "${LNET_NPY_TMP} && ${LNET_NPY_GEN} blobs $d 20 8 f4 && sed 's/f32\\[3, 8, 8\\]/f32[192]/; s/conv2d(image, 8, kernel = 3, padding = 1)/dense(image, 8)/; s/flatten(x)/x/' ${LNET_NPY_DIR}/blobs_aug.lnet > $d/m.lnet && $<TARGET_FILE:lnet> train $d/m.lnet --data-dir $d --quiet --max-steps 1")

# lnet predict: the logits of every example (float32, N x classes) or their
# class ids (int64, N); its accuracy against --labels is lnet eval's on the
# same files (a model trained 3 steps, far from 100%), and the ids it writes
# give that accuracy too.
set(LNET_NPY_CKPT "${LNET_NPY_TMP} && ${LNET_NPY_GEN} blobs $d 400 100 f4 && cp ${LNET_NPY_DIR}/blobs.lnet $d && $<TARGET_FILE:lnet> train $d/blobs.lnet --quiet --max-steps 3 --save $d/c.ckpt")
set(LNET_NPY_PREDICT "$<TARGET_FILE:lnet> predict $d/blobs.lnet --load $d/c.ckpt --input $d/xt.npy")
lnet_cli_test(predict_accuracy_equals_eval 0 "^same accuracy [0-9.]+\\n$"
  "${LNET_NPY_CKPT} && e=$($<TARGET_FILE:lnet> eval $d/blobs.lnet --load $d/c.ckpt | sed -n 's/^  task .*accuracy \\([0-9.]*\\)%.*/\\1/p') && p=$(${LNET_NPY_PREDICT} --labels $d/yt.npy | sed -n 's/.*accuracy \\([0-9.]*\\)%.*/\\1/p') && [ -n \"$e\" ] && [ \"$e\" = \"$p\" ] && echo same accuracy $e")
lnet_cli_test(predict_writes_logits_and_class_ids 0
  "predicted 100 examples, 4 classes -> [^\\n]*/o.npy \\(float32 logits\\)\\n.*'descr': '<f4', 'fortran_order': False, 'shape': \\(100, 4\\), \\} +1728\\n.*predicted 100 examples, 4 classes -> [^\\n]*/k.npy \\(int64 class ids\\)\\n.*'descr': '<i8', 'fortran_order': False, 'shape': \\(100,\\), \\} +928\\nids match ([0-9]+) of 100\\n= accuracy \\1\\.00%"
  "${LNET_NPY_CKPT} && ${LNET_NPY_PREDICT} --output $d/o.npy && head -c 127 $d/o.npy | tail -c +11 | tr -s ' ' && stat -c ' %s' $d/o.npy && ${LNET_NPY_PREDICT} --classes --output $d/k.npy && head -c 127 $d/k.npy | tail -c +11 | tr -s ' ' && stat -c ' %s' $d/k.npy && python3 -c \"import struct,sys; k=struct.unpack('<100q', open('$d/k.npy','rb').read()[128:]); y=struct.unpack('<100i', open('$d/yt.npy','rb').read()[128:]); print('ids match', sum(a==b for a,b in zip(k,y)), 'of 100')\" && ${LNET_NPY_PREDICT} --labels $d/yt.npy | sed 's/.*accuracy/= accuracy/'")
lnet_cli_test(predict_input_of_another_shape_is_refused 1
  "^lnet predict: error: [^\\n]*/x.npy: has shape \\(20, 192\\), but the model's input takes \\(20, 3, 8, 8\\)"
  "${LNET_NPY_CKPT} && ${LNET_NPY_GEN} bad $d shape && ${LNET_NPY_PREDICT} --input $d/x.npy")
lnet_cli_test(predict_unknown_head_is_refused 1 "^lnet predict: error: the model has no head named 'head7'"
  "${LNET_NPY_CKPT} && ${LNET_NPY_PREDICT} --head head7")
lnet_cli_test(predict_needs_input 1 "^lnet predict: error: --input X.npy is required"
  "${LNET_NPY_TMP} && $<TARGET_FILE:lnet> predict ${LNET_NPY_DIR}/blobs.lnet --load $d/c.ckpt")
