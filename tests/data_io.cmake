# Data files checked against the model before training: every IDX file the
# feed opens (train and test images against the input's size), and inputs that
# are not regular files (a FIFO blocked open() forever) refused at once. The
# IDX files are written by tests/faults/write_idx.sh into a fresh folder.
set(LNET_MLP ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet)
set(LNET_IDX ${CMAKE_CURRENT_SOURCE_DIR}/faults/write_idx.sh)
set(LNET_TRAIN_TINY "$<TARGET_FILE:lnet> train ${LNET_MLP} --exec interp --max-steps 1 --quiet")

# Test images of another size than the training images and the model's input
# overflowed the evaluation batch (larger) or gave wrong numbers (smaller).
foreach(size 20 32)
  lnet_cli_test(data_io_test_images_${size}x${size}_are_refused 1
    "error: [^\\n]*/t10k-images-idx3-ubyte: images are ${size}x${size} \\([0-9]+ values\\), but input 'image' takes 784 values per example"
    "d=$(mktemp -d) && trap 'rm -rf $d' EXIT && ${LNET_IDX} $d train 256 28 28 && ${LNET_IDX} $d t10k 64 ${size} ${size} && ${LNET_TRAIN_TINY} --data-dir $d")
endforeach()
lnet_cli_test(data_io_train_images_of_another_size_are_refused 1
  "error: [^\\n]*/train-images-idx3-ubyte: images are 30x30 \\(900 values\\), but input 'image' takes 784"
  "d=$(mktemp -d) && trap 'rm -rf $d' EXIT && ${LNET_IDX} $d train 256 30 30 && ${LNET_IDX} $d t10k 64 28 28 && ${LNET_TRAIN_TINY} --data-dir $d")
lnet_cli_test(data_io_test_labels_out_of_range_are_refused 1
  "error: [^\\n]*/t10k-labels-idx1-ubyte: label 10 of example 10 is out of range \\[0, 10\\)"
  "d=$(mktemp -d) && trap 'rm -rf $d' EXIT && ${LNET_IDX} $d train 256 28 28 && ${LNET_IDX} $d t10k 64 28 28 12 && ${LNET_TRAIN_TINY} --data-dir $d")
lnet_cli_test(data_io_matching_files_train 0 ""
  "d=$(mktemp -d) && trap 'rm -rf $d' EXIT && ${LNET_IDX} $d train 256 28 28 && ${LNET_IDX} $d t10k 64 28 28 && ${LNET_TRAIN_TINY} --data-dir $d")

# A FIFO as a data file, text corpus or checkpoint: refused without blocking
# (`timeout` turns the old hang into a failure with status 124).
lnet_cli_test(data_io_fifo_as_idx_file_is_refused 1
  "error: [^\\n]*/t10k-images-idx3-ubyte: is a FIFO, not a regular file"
  "d=$(mktemp -d) && trap 'rm -rf $d' EXIT && ${LNET_IDX} $d train 256 28 28 && ${LNET_IDX} $d t10k 64 28 28 && rm $d/t10k-images-idx3-ubyte && mkfifo $d/t10k-images-idx3-ubyte && timeout 20 ${LNET_TRAIN_TINY} --data-dir $d")
lnet_cli_test(data_io_fifo_as_text_is_refused 1
  "error: [^\\n]*/fifo: is a FIFO, not a regular file"
  "d=$(mktemp -d) && trap 'rm -rf $d' EXIT && mkfifo $d/fifo && timeout 20 $<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/charlm.lnet --exec interp --max-steps 1 --quiet --data-dir $d/fifo")
lnet_cli_test(data_io_fifo_as_checkpoint_is_refused 1
  "error: [^\\n]*/fifo: is a FIFO, not a regular file"
  "d=$(mktemp -d) && trap 'rm -rf $d' EXIT && mkfifo $d/fifo && timeout 20 $<TARGET_FILE:lnet> eval ${LNET_MLP} --load $d/fifo --test-limit 10")

# Each IDX data set is normalised with its own training statistics (reported):
# mnist (here: read from the Fashion-MNIST files) with MNIST's, not Fashion-MNIST's.
lnet_cli_test(data_mnist_has_its_own_normalisation 0
  "^\"norm\":\\{\"mean\":0\\.286,\"std\":0\\.353,\"computed\":false\\}\\n\"norm\":\\{\"mean\":0\\.1307,\"std\":0\\.3081,\"computed\":false\\}\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; sed 's/fashion_mnist/mnist/' ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet > $d/m.lnet; o='--max-steps 1 --train-limit 128 --test-limit 16 --quiet --threads 1'; $<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet $o --report $d/f.json && $<TARGET_FILE:lnet> train $d/m.lnet --data-dir /usr/share/datasets/fashion-mnist $o --report $d/m.json && grep -o '\"norm\":{[^}]*}' $d/f.json $d/m.json | cut -d: -f2-")
