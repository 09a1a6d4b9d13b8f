"""Compares a directory of rebuilt example models (and their .f32 validation samples) with the committed
ones, on what must hold on any machine. Training is not bit-reproducible across CPUs (OpenBLAS picks its
kernels per CPU), so byte equality is reported, not required. A rebuilt model passes when:
  - its graph has the same ops, initializer shapes and inputs/outputs;
  - a classifier agrees with the committed one on >= 99% of the held-out rows' labels, and its held-out
    accuracy (and, for the binary fraud model, ROC AUC) is within QUALITY_TOLERANCE of the committed one's.
Validation samples must match to float32 rounding. Prints a JSON report."""

import functools
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "runtime" / "models"))
from build_models import datasets  # noqa: E402

MIN_LABEL_AGREEMENT = 0.99
QUALITY_TOLERANCE = 0.02


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


held_out_data = functools.cache(datasets)


def family_of(name: str) -> str | None:
    return next((family for family in held_out_data() if name.startswith(f"{family}-")), None)


def predict(path: Path, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(["label", "probabilities"], {"features": features.astype(np.float32)})
    return labels, probabilities


def quality(labels: np.ndarray, probabilities: np.ndarray, truth: np.ndarray) -> dict:
    scores = {"accuracy": float(np.mean(labels == truth))}
    if probabilities.shape[1] == 2:
        scores["auc"] = float(roc_auc_score(truth, probabilities[:, 1]))
    return scores


def compare_classifier(committed: Path, rebuilt: Path, family: str) -> dict:
    held_out = held_out_data()[family]
    committed_labels, committed_probabilities = predict(committed, held_out.validation_x)
    rebuilt_labels, rebuilt_probabilities = predict(rebuilt, held_out.validation_x)
    agreement = float(np.mean(committed_labels == rebuilt_labels))
    before = quality(committed_labels, committed_probabilities, held_out.validation_y)
    after = quality(rebuilt_labels, rebuilt_probabilities, held_out.validation_y)
    quality_ok = all(abs(after[metric] - before[metric]) <= QUALITY_TOLERANCE for metric in before)
    return {
        "ok": agreement >= MIN_LABEL_AGREEMENT and quality_ok,
        "label_agreement": agreement,
        "committed": before,
        "rebuilt": after,
    }


def compare(committed: Path, rebuilt: Path) -> dict:
    if not rebuilt.exists():
        return {"ok": False, "reason": "not rebuilt"}
    bytes_equal = digest(committed) == digest(rebuilt)
    if committed.suffix == ".f32":
        x, y = np.fromfile(committed, dtype="<f4"), np.fromfile(rebuilt, dtype="<f4")
        return {"ok": x.shape == y.shape and bool(np.allclose(x, y, rtol=1e-6, atol=1e-6)), "bytes_equal": bytes_equal}
    a, b = onnx.load(str(committed)), onnx.load(str(rebuilt))
    if structure(a) != structure(b):
        return {"ok": False, "bytes_equal": bytes_equal, "reason": "graph structure differs"}
    family = family_of(committed.name)
    if family is None:
        # A fixture without trained weights (all-types-identity): its structure is the whole model.
        return {"ok": True, "bytes_equal": bytes_equal}
    return {**compare_classifier(committed, rebuilt, family), "bytes_equal": bytes_equal}


def main() -> None:
    committed, rebuilt = Path(sys.argv[1]), Path(sys.argv[2])
    report = {path.name: compare(path, rebuilt / path.name) for path in sorted([*committed.glob("*.onnx"), *committed.glob("*.f32")])}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
