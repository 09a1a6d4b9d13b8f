#!/usr/bin/env bash
# Idempotent: .venv-mlflow with a pinned MLflow (tracking server, model registry and Python client) plus
# onnx/onnxruntime for mlflow.onnx.log_model; prints the venv's bin dir.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/ensure-tool-venv.sh" mlflow "$here/mlflow-constraints.txt" mlflow==3.17.2 onnx==1.23.2 onnxruntime==1.32.0
