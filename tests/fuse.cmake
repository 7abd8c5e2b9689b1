# The fuse pass (passes/fuse.c) as lnet train runs it; --no-fuse turns it off.
set(LNET_FUSE_CNN "$<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_cnn.lnet --threads 1 --max-steps 3 --train-limit 96 --test-limit 32 --batch 32 --quiet")
set(LNET_FUSE_TMP "d=$(mktemp -d) && trap 'rm -rf $d' EXIT &&")

# --print-after=fuse: every conv2d + bias + relu of the CNN is one op, no
# separate relu is left, and every relu_grad went into the maxpool_grad or
# conv2d_grad_x before it, which read the fused value.
lnet_cli_test(cli_fuse_print_after 0
  "; --- after fuse ---\\n(?![\\s\\S]*= relu )(?![\\s\\S]*= conv2d )(?![\\s\\S]*= relu_grad )[\\s\\S]*%5 = conv2d_bias_relu %2, %3, %4 stride=1 padding=1 [\\s\\S]*= maxpool_grad_relu %[0-9]+, %8 [\\s\\S]*= conv2d_grad_x_relu %[0-9]+, %[0-9]+, %5 "
  "$<TARGET_FILE:lnet> ir ${CMAKE_SOURCE_DIR}/examples/fmnist_cnn.lnet --passes=shape,verify,partition,aux-heads,stop-grad,verify,autodiff,optimizer,fuse --print-after=fuse")
# lnet train fuses by default (the profile's kernels), not with --no-fuse.
lnet_cli_test(cli_fuse_train_default 0
  "(?![\\s\\S]*forward +relu )forward +conv2d_bias_relu +6 "
  "${LNET_FUSE_CNN} --profile")
lnet_cli_test(cli_fuse_train_off 0
  "(?![\\s\\S]*conv2d_bias_relu)(?=[\\s\\S]*forward +relu +6 )forward +conv2d +6 "
  "${LNET_FUSE_CNN} --profile --no-fuse")
# Fusing changes no number: the same losses and gradient norms, bit for bit.
lnet_cli_test(cli_fuse_same_numbers 0 "^same\\n$"
  "${LNET_FUSE_TMP} ${LNET_FUSE_CNN} --log $d/a.csv && ${LNET_FUSE_CNN} --no-fuse --log $d/b.csv && grep ^train $d/a.csv | cut -d, -f7- > $d/a && grep ^train $d/b.csv | cut -d, -f7- > $d/b && test -s $d/a && cmp $d/a $d/b && echo same")
# lnet ir --emit prints the modules lnet train compiles: fused.
lnet_cli_test(cli_fuse_emit 0
  "define internal fastcc void @k[0-9]+\\.bias_relu\\("
  "$<TARGET_FILE:lnet> ir ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --emit llvm")
# The trainer lnet build writes runs the same kernels as lnet train, the
# Winograd convolutions included (fmnist_cnn's 3×3 layers), with its scratch
# sized at start-up by the same layout code.
lnet_cli_test(aot_cnn_trainer_matches_lnet_train 0 "same: test loss [0-9.]+, test accuracy [0-9.]+%\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; L=$<TARGET_FILE:lnet>; q='--max-steps 5 --batch 32 --train-limit 160 --test-limit 64 --threads 1'; $L build ${CMAKE_SOURCE_DIR}/examples/fmnist_cnn.lnet -o $d/tr --quiet && $d/tr $q > $d/a 2>&1 && $L train ${CMAKE_SOURCE_DIR}/examples/fmnist_cnn.lnet $q > $d/b 2>&1; cat $d/a $d/b; x=$(grep -o 'test loss [0-9.]*, test accuracy [0-9.]*%' $d/a); test -n \"$x\" && test \"$x\" = \"$(grep -o 'test loss [0-9.]*, test accuracy [0-9.]*%' $d/b)\" && echo \"same: $x\"")
