# lnet export (tools/cmd_export.c, tools/onnx_write.c): the PyTorch module it
# writes, loaded with an lnet checkpoint, and the ONNX file, run by a small
# torch-based ONNX evaluator after onnx.checker, both score the test examples
# as `lnet eval` does (the same loss within 1e-4, the same accuracy) — one model
# of each family: dense, convolutional with a residual stage (and with batch
# norm, whose running statistics the module and ONNX file evaluate with), transformer. The
# checks are tests/export/check_{torch,onnx}.py on Debian's python3-torch and
# python3-onnx.
set(LNET_EXPORT_CHECK "/usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/export/check_torch.py")
set(LNET_EXPORT_CHECK_ONNX "/usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/export/check_onnx.py")
foreach(case "mlp;fmnist_mlp;fashion;300" "resnet;fmnist_resnet;fashion;100"
        "resnet_bn;fmnist_resnet_bn;fashion;100" "charlm;charlm;text;32")
  list(GET case 0 name)
  list(GET case 1 model)
  list(GET case 2 family)
  list(GET case 3 n)
  lnet_cli_test(export_${name}_torch_and_onnx_match_eval 0 "torch: loss [0-9.]+ accuracy [0-9.]+; lnet eval: loss [0-9.]+ accuracy [0-9.]+\\nmatch\\nonnx.checker: ok\\nonnx: loss [0-9.]+ accuracy [0-9.]+; lnet eval: loss [0-9.]+ accuracy [0-9.]+\\nmatch"
    "d=$(mktemp -d); trap 'rm -rf $d' EXIT; m=${CMAKE_SOURCE_DIR}/examples/${model}.lnet; L=$<TARGET_FILE:lnet>; $L train $m --max-steps 3 --train-limit 384 --test-limit ${n} --quiet --threads 1 --save $d/c.ckpt && $L export $m --load $d/c.ckpt --torch $d/model.py --onnx $d/model.onnx && $L eval $m --load $d/c.ckpt --test-limit ${n} --report $d/r.json >/dev/null && ${LNET_EXPORT_CHECK} $d/model.py $d/c.ckpt $d/r.json ${family} ${n} && ${LNET_EXPORT_CHECK_ONNX} $d/model.onnx $d/r.json ${family} ${n}")
endforeach()
# The module is ordinary PyTorch: nn.Linear with [out, in] weights, nn.Conv2d.
lnet_cli_test(export_torch_uses_pytorch_modules 0
  "(?s)\"dense_0.w\": \\(\"dense_0.weight\", True\\).*self.conv2d_0 = nn.Conv2d\\(1, 32, 3, stride=1, padding=1, bias=True\\).*self.dense_0 = nn.Linear\\(3136, 10, bias=True\\)"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; $<TARGET_FILE:lnet> export ${CMAKE_SOURCE_DIR}/examples/fmnist_cnn.lnet --torch $d/m.py >/dev/null && cat $d/m.py")
# A checkpoint of another model is refused at export time.
lnet_cli_test(export_refuses_other_models_checkpoint 1
  "lnet export: error: .*c.ckpt: no parameter 'conv2d_0.w': not a checkpoint of model 'fmnist_cnn'"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; L=$<TARGET_FILE:lnet>; $L train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --max-steps 1 --train-limit 128 --test-limit 16 --quiet --threads 1 --save $d/c.ckpt && $L export ${CMAKE_SOURCE_DIR}/examples/fmnist_cnn.lnet --load $d/c.ckpt --torch $d/m.py")
lnet_cli_test(export_onnx_needs_the_weights 1 "lnet export: error: --onnx needs the weights: --load CKPT"
  "$<TARGET_FILE:lnet> export ${CMAKE_SOURCE_DIR}/examples/fmnist_cnn.lnet --onnx x.onnx")
lnet_cli_test(export_needs_an_output 1 "lnet export: error: say what to write: --torch OUT.py or --onnx OUT.onnx"
  "$<TARGET_FILE:lnet> export ${CMAKE_SOURCE_DIR}/examples/fmnist_cnn.lnet")
