#!/usr/bin/env python3
"""Builds the example models in examples/models, reproducibly.

  .venv/bin/python runtime/models/build_models.py [--out examples/models]

Models (all take float32 [N, F] with a dynamic batch dimension N):
  fraud-fp32.onnx          fraud-detection MLP on 30 synthetic transaction features
  fraud-int8-qdq.onnx      the same, statically quantized to INT8, QDQ form
  fraud-int8-qoperator.onnx  the same, statically quantized to INT8, QOperator form
  wide-mlp-fp32.onnx       a wide MLP classifier whose cost per row makes batching worthwhile
  wide-mlp-int8-qdq.onnx   the same, statically quantized to INT8, QDQ form
  wide-mlp-int8-qoperator.onnx  the same, statically quantized to INT8, QOperator form
  fraud-validation.f32     1024 held-out transactions, raw little-endian float32 [1024, 30]
  wide-mlp-validation.f32  1024 held-out rows, raw little-endian float32 [1024, 64]
                           (in-distribution inputs for INT8-vs-FP32 agreement checks and the benchmark)
  all-types-identity.onnx  one Identity per V2 datatype (in_<TYPE> -> out_<TYPE>, shape [batch, width]);
                           a protocol fixture, not a data-science model

Everything is seeded and the opset is fixed, so reruns with the pinned requirements.txt give the
same graphs and, on the same CPU and BLAS kernels, the same bytes. Training is not bit-reproducible
across CPUs (OpenBLAS picks kernels per CPU, and rounding differs): test/runtime/compare_models.py
checks what holds everywhere (structure, held-out accuracy and AUC, label agreement).
SHA256SUMS lists the committed files.
"""

from __future__ import annotations

import os

# Multi-threaded BLAS splits reductions by load, which changes float rounding from run to run;
# one thread makes training, and so the committed bytes, reproducible.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import hashlib
import logging
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
FRAUD_FEATURES = 30
WIDE_FEATURES = 64
WIDE_CLASSES = 10
VALIDATION_ROWS = 1024


def synthetic_transactions(rng: np.random.Generator, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns: amount, hour, 28 anonymised PCA-like components (as in the classic card data set).
    Fraud (about 3%) is more likely for large amounts at night with unusual components."""
    amount = rng.lognormal(mean=3.5, sigma=1.2, size=rows)
    hour = rng.integers(0, 24, size=rows).astype(np.float64)
    components = rng.normal(size=(rows, FRAUD_FEATURES - 2))
    night = ((hour < 6) | (hour > 22)).astype(np.float64)
    score = (
        0.9 * np.log1p(amount)
        + 1.5 * night
        + 1.2 * components[:, 0]
        - 0.8 * components[:, 3]
        + 0.6 * components[:, 7] * components[:, 11]
        + 0.5 * np.abs(components[:, 14])
    )
    threshold = np.quantile(score, 0.97)
    labels = (score + rng.normal(scale=0.3, size=rows) > threshold).astype(np.int64)
    features = np.column_stack([amount, hour, components]).astype(np.float32)
    return features, labels


def wide_dataset(rng: np.random.Generator, rows: int) -> tuple[np.ndarray, np.ndarray]:
    centers = rng.normal(scale=2.0, size=(WIDE_CLASSES, WIDE_FEATURES))
    labels = rng.integers(0, WIDE_CLASSES, size=rows)
    features = centers[labels] + rng.normal(size=(rows, WIDE_FEATURES))
    return features.astype(np.float32), labels.astype(np.int64)


def to_onnx(estimator, features: int, name: str) -> onnx.ModelProto:
    model = convert_sklearn(
        estimator,
        name=name,
        initial_types=[("features", FloatTensorType([None, features]))],
        options={id(estimator): {"zipmap": False}},
        target_opset=TARGET_OPSET,
    )
    model.producer_name = "modelship-examples"
    model.producer_version = "1"
    model.doc_string = name
    return model


class ArrayReader(CalibrationDataReader):
    def __init__(self, features: np.ndarray, batch: int = 64):
        self._batches = [features[i : i + batch] for i in range(0, len(features), batch)]
        self._next = 0

    def get_next(self):
        if self._next >= len(self._batches):
            return None
        batch = self._batches[self._next]
        self._next += 1
        return {"features": batch}

    def rewind(self):
        self._next = 0


def quantize(fp32_path: Path, out_path: Path, calibration: np.ndarray, fmt: QuantFormat) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        # The calibrator writes an augmented model next to its temp files; keep them out of --out.
        cwd = os.getcwd()
        os.chdir(scratch)
        try:
            quantize_static(
                str(fp32_path),
                str(out_path),
                ArrayReader(calibration),
                quant_format=fmt,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=False,
                calibrate_method=CalibrationMethod.MinMax,
                op_types_to_quantize=["MatMul", "Add", "Relu"],
                extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
            )
        finally:
            os.chdir(cwd)
    model = onnx.load(str(out_path))
    model.producer_name = "modelship-examples"
    model.producer_version = "1"
    onnx.save(model, str(out_path))


# V2 datatype -> ONNX element type, for every type onnxruntime-node can feed and fetch.
V2_TO_ONNX = {
    "BOOL": TensorProto.BOOL, "UINT8": TensorProto.UINT8, "UINT16": TensorProto.UINT16,
    "UINT32": TensorProto.UINT32, "UINT64": TensorProto.UINT64, "INT8": TensorProto.INT8,
    "INT16": TensorProto.INT16, "INT32": TensorProto.INT32, "INT64": TensorProto.INT64,
    "FP16": TensorProto.FLOAT16, "FP32": TensorProto.FLOAT, "FP64": TensorProto.DOUBLE,
    "BYTES": TensorProto.STRING,
}


def all_types_identity() -> onnx.ModelProto:
    shape = ["batch", "width"]
    inputs = [helper.make_tensor_value_info(f"in_{t}", e, shape) for t, e in V2_TO_ONNX.items()]
    outputs = [helper.make_tensor_value_info(f"out_{t}", e, shape) for t, e in V2_TO_ONNX.items()]
    nodes = [helper.make_node("Identity", [f"in_{t}"], [f"out_{t}"], name=f"identity_{t}") for t in V2_TO_ONNX]
    graph = helper.make_graph(nodes, "all-types-identity", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", TARGET_OPSET[""])], producer_name="modelship-examples")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


@dataclass(frozen=True)
class Split:
    train_x: np.ndarray
    train_y: np.ndarray
    validation_x: np.ndarray
    validation_y: np.ndarray


def split(features: np.ndarray, labels: np.ndarray) -> Split:
    return Split(features[:-VALIDATION_ROWS], labels[:-VALIDATION_ROWS], features[-VALIDATION_ROWS:], labels[-VALIDATION_ROWS:])


def datasets() -> dict[str, Split]:
    """The seeded training and held-out rows of each model family; test/runtime/compare_models.py
    scores rebuilt models on the same held-out rows."""
    rng = np.random.default_rng(20240601)
    fraud = split(*synthetic_transactions(rng, 20000 + VALIDATION_ROWS))
    wide = split(*wide_dataset(rng, 6000 + VALIDATION_ROWS))
    return {"fraud": fraud, "wide-mlp": wide}


def build(out: Path) -> dict[str, str]:
    out.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    # onnxruntime.quantization nags about optional pre-processing on the root logger.
    logging.getLogger().setLevel(logging.ERROR)

    data = datasets()
    fraud_data, wide_data = data["fraud"], data["wide-mlp"]
    fraud_data.validation_x.astype("<f4").tofile(out / "fraud-validation.f32")
    fraud = make_pipeline(
        StandardScaler(),
        MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=60, random_state=7),
    ).fit(fraud_data.train_x, fraud_data.train_y)
    fraud_fp32 = out / "fraud-fp32.onnx"
    onnx.save(to_onnx(fraud, FRAUD_FEATURES, "fraud-detection"), str(fraud_fp32))
    quantize(fraud_fp32, out / "fraud-int8-qdq.onnx", fraud_data.train_x[:2048], QuantFormat.QDQ)
    quantize(fraud_fp32, out / "fraud-int8-qoperator.onnx", fraud_data.train_x[:2048], QuantFormat.QOperator)

    wide_data.validation_x.astype("<f4").tofile(out / "wide-mlp-validation.f32")
    wide = MLPClassifier(hidden_layer_sizes=(1024, 1024), max_iter=4, batch_size=200, random_state=11)
    wide.fit(wide_data.train_x, wide_data.train_y)
    wide_fp32 = out / "wide-mlp-fp32.onnx"
    onnx.save(to_onnx(wide, WIDE_FEATURES, "wide-mlp"), str(wide_fp32))
    quantize(wide_fp32, out / "wide-mlp-int8-qdq.onnx", wide_data.train_x[:1024], QuantFormat.QDQ)
    quantize(wide_fp32, out / "wide-mlp-int8-qoperator.onnx", wide_data.train_x[:1024], QuantFormat.QOperator)

    onnx.save(all_types_identity(), str(out / "all-types-identity.onnx"))

    sums = {}
    for path in sorted([*out.glob("*.onnx"), *out.glob("*.f32")]):
        sums[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    (out / "SHA256SUMS").write_text("".join(f"{digest}  {name}\n" for name, digest in sums.items()))
    return sums


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "examples" / "models")
    args = parser.parse_args()
    for name, digest in build(args.out.resolve()).items():
        print(f"{digest}  {name}")


if __name__ == "__main__":
    main()
