"""Builds a model whose batch dimension is dynamic but which runs at one row only, into OUT_PATH.

  python build_one_row_model.py OUT_PATH

  x float32 [N, 3] -> y = x + Reshape(x, [3]), float32 [N, 3]: 2 * x at one row; two or more rows
  make the Reshape fail inside onnxruntime (the sum keeps the output's first dim dynamic)
"""

import sys

import onnx
from onnx import TensorProto, helper

flat = helper.make_tensor("flat", TensorProto.INT64, [1], [3])
graph = helper.make_graph(
    [
        helper.make_node("Reshape", ["x", "flat"], ["single"]),
        helper.make_node("Add", ["x", "single"], ["y"]),
    ],
    "one-row",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
    initializer=[flat],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
