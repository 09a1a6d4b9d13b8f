#!/usr/bin/env bash
# Idempotent: creates .venv-mlflow (if missing) with a pinned MLflow (tracking server, model registry
# and Python client) plus onnx/onnxruntime for mlflow.onnx.log_model, then prints the venv's bin dir.
# Its own venv and constraints, so MLflow's dependencies never fight the model tools in .venv.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venv-mlflow"
python_bin="${PYTHON:-python3}"
packages=(mlflow==3.17.2 onnx==1.23.2 onnxruntime==1.32.0)
constraints="$root/test/support/mlflow-constraints.txt"
stamp="$venv/.modelship-requirements"
wanted="$(cat "$constraints"; printf '%s\n' "${packages[@]}")"

if [ ! -x "$venv/bin/python" ]; then
  "$python_bin" -m venv "$venv" >&2
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}" -c "$constraints" >&2
  printf '%s' "$wanted" > "$stamp"
fi
echo "$venv/bin"
