"""Compares two directories of example models (and their .f32 validation samples): byte-equal, or else semantically equal (same graph
ops, initializer shapes and I/O, same outputs on fixed inputs). Prints a JSON report."""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def structure(model: onnx.ModelProto) -> dict:
    graph = model.graph
    return {
        "ops": [node.op_type for node in graph.node],
        "initializers": sorted((init.name, tuple(init.dims), init.data_type) for init in graph.initializer),
        "inputs": [i.name for i in graph.input],
        "outputs": [o.name for o in graph.output],
    }


def outputs(path: Path) -> list:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {}
    rng = np.random.default_rng(5)
    for spec in session.get_inputs():
        if spec.type != "tensor(float)":
            return []
        width = spec.shape[1]
        feeds[spec.name] = rng.normal(scale=2.0, size=(256, width)).astype(np.float32)
    return session.run(None, feeds)


def compare(committed: Path, rebuilt: Path) -> dict:
    if not rebuilt.exists():
        return {"ok": False, "reason": "not rebuilt"}
    if digest(committed) == digest(rebuilt):
        return {"ok": True, "bytes_equal": True}
    if committed.suffix == ".f32":
        x, y = np.fromfile(committed, dtype="<f4"), np.fromfile(rebuilt, dtype="<f4")
        return {"ok": x.shape == y.shape and bool(np.allclose(x, y, atol=1e-5)), "bytes_equal": False}
    a, b = onnx.load(str(committed)), onnx.load(str(rebuilt))
    if structure(a) != structure(b):
        return {"ok": False, "bytes_equal": False, "reason": "graph structure differs"}
    worst = 0.0
    labels_equal = True
    for x, y in zip(outputs(committed), outputs(rebuilt)):
        if x.dtype.kind in "iu":
            labels_equal &= float(np.mean(x == y)) >= 0.99
        else:
            worst = max(worst, float(np.max(np.abs(x - y))))
    return {"ok": labels_equal and worst < 0.05, "bytes_equal": False, "max_abs_diff": worst, "labels_equal": labels_equal}


def main() -> None:
    committed, rebuilt = Path(sys.argv[1]), Path(sys.argv[2])
    report = {path.name: compare(path, rebuilt / path.name) for path in sorted([*committed.glob("*.onnx"), *committed.glob("*.f32")])}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
