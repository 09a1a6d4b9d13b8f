"""Builds the small models the prediction-metrics test serves, into OUT_DIR.

  python build_prediction_models.py OUT_DIR FRAUD_ONNX_PATH

  labels.onnx       int64 x [N] -> label (Identity): the test chooses the predicted classes
  scores.onnx       float32 x [N, 3] -> probabilities (Identity): per-class scores, no label output
  regressor.onnx    float32 x [N, 1] -> value (Identity)
  fraud-named.onnx  the fraud example model with metadata_props class_names = "legit,fraud"
"""

import sys
from pathlib import Path

import onnx
from onnx import TensorProto, helper


def identity(path: Path, elem_type: int, in_shape: list, out_name: str) -> None:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], [out_name])],
        "identity",
        [helper.make_tensor_value_info("x", elem_type, in_shape)],
        [helper.make_tensor_value_info(out_name, elem_type, in_shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main() -> None:
    out, fraud = Path(sys.argv[1]), sys.argv[2]
    identity(out / "labels.onnx", TensorProto.INT64, ["N"], "label")
    identity(out / "scores.onnx", TensorProto.FLOAT, ["N", 3], "probabilities")
    identity(out / "regressor.onnx", TensorProto.FLOAT, ["N", 1], "value")
    named = onnx.load(fraud)
    entry = named.metadata_props.add()
    entry.key, entry.value = "class_names", "legit,fraud"
    onnx.save(named, out / "fraud-named.onnx")


if __name__ == "__main__":
    main()
