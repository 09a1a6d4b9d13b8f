"""Builds a "trigger-happy" fraud model for the class-share analysis test, into OUT_PATH:

  python build_drift_model.py OUT_PATH

  features float32 [N, 30] -> label int64 [N]: 1 (fraud) whenever feature 1 (the hour column) is below 0,
  so on the test's client rows it flags about half as fraud, while the example fraud model flags few.
  Same input as the example model: a drop-in candidate that predicts a very different class mix.
"""

import sys

import onnx
from onnx import TensorProto, helper


def main() -> None:
    nodes = [
        helper.make_node("Constant", [], ["column"], value=helper.make_tensor("column", TensorProto.INT64, [], [1])),
        helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])),
        helper.make_node("Gather", ["features", "column"], ["hour"], axis=1),
        helper.make_node("Less", ["hour", "zero"], ["flagged"]),
        helper.make_node("Cast", ["flagged"], ["label"], to=TensorProto.INT64),
    ]
    graph = helper.make_graph(
        nodes,
        "trigger-happy-fraud",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 30])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, sys.argv[1])


if __name__ == "__main__":
    main()
