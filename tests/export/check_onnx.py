#!/usr/bin/env python3
"""check_onnx.py MODEL.onnx REPORT.json FAMILY N — the ONNX file written by
`lnet export --onnx` passes onnx.checker (full check, with shape inference)
and, run by the small evaluator below (each ONNX node by its torch
equivalent, written from the ONNX operator specification, independent of
lnet's exporter), scores the first N test examples as `lnet eval
--test-limit N` did in REPORT: the same loss within 1e-4 (relative), the same
accuracy within one example."""
import os
import sys

import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from score import compare, examples  # noqa: E402


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def run(model, feeds):
    env = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in model.graph.initializer}
    env.update(feeds)
    for n in model.graph.node:
        x = [env[i] for i in n.input]
        a = attrs(n)
        op = n.op_type
        if op in ("Add", "Sub", "Mul", "Div", "MatMul"):
            y = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div,
                 "MatMul": torch.matmul}[op](x[0], x[1])
        elif op in ("Relu", "Tanh", "Sigmoid", "Erf", "Identity"):
            y = {"Relu": torch.relu, "Tanh": torch.tanh, "Sigmoid": torch.sigmoid,
                 "Erf": torch.erf, "Identity": lambda t: t}[op](x[0])
        elif op == "LeakyRelu":
            y = F.leaky_relu(x[0], a.get("alpha", 0.01))
        elif op in ("Softmax", "LogSoftmax"):
            y = x[0].softmax(a.get("axis", -1)) if op == "Softmax" else x[0].log_softmax(a.get("axis", -1))
        elif op == "Conv":
            p = a.get("pads", [0, 0, 0, 0])
            assert p[0] == p[2] and p[1] == p[3]
            y = F.conv2d(x[0], x[1], x[2] if len(x) > 2 else None, a.get("strides", [1, 1]), p[:2])
        elif op in ("MaxPool", "AveragePool"):
            f = F.max_pool2d if op == "MaxPool" else F.avg_pool2d
            y = f(x[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]))
        elif op == "GlobalAveragePool":
            y = x[0].mean(dim=(2, 3), keepdim=True)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = x[0].reshape(int(torch.tensor(x[0].shape[:ax]).prod()), -1)
        elif op == "Reshape":
            shape = [x[0].shape[i] if s == 0 else int(s) for i, s in enumerate(x[1].tolist())]
            y = x[0].reshape(shape)
        elif op == "Transpose":
            y = x[0].permute(*a["perm"])
        elif op == "LayerNormalization":
            y = F.layer_norm(x[0], x[0].shape[-1:], x[1], x[2], a.get("epsilon", 1e-5))
        elif op == "BatchNormalization":
            assert a.get("training_mode", 0) == 0
            y = F.batch_norm(x[0], x[3], x[4], x[1], x[2], False, 0.0, a.get("epsilon", 1e-5))
        elif op == "Gather":
            y = x[0][x[1].long()]
        else:
            raise SystemExit(f"check_onnx.py: no evaluator for {op}")
        env[n.output[0]] = y
    return env[model.graph.output[0].name]


path, report, family, n = sys.argv[1:5]
model = onnx.load(path)
onnx.checker.check_model(model, full_check=True)
print("onnx.checker: ok")
x, y = examples(family, int(n))
with torch.no_grad():
    compare("onnx", run(model, {model.graph.input[0].name: x}), y, report)
