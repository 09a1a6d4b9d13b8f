#!/usr/bin/env bash
# Idempotent: creates .venv (if missing) with the model-building toolchain and the Triton HTTP and gRPC
# clients used by the compatibility tests, then prints the venv's python path on stdout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venv"
python_bin="${PYTHON:-python3}"
tritonclient_spec='tritonclient[http,grpc]==2.73.0'
stamp="$venv/.modelship-requirements"
constraints="$root/test/runtime/python-constraints.txt"
wanted="$(cat "$root/runtime/models/requirements.txt" "$constraints"; echo "$tritonclient_spec")"

if [ ! -x "$venv/bin/python" ]; then
  "$python_bin" -m venv "$venv" >&2
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$root/runtime/models/requirements.txt" -c "$constraints" "$tritonclient_spec" >&2
  printf '%s' "$wanted" > "$stamp"
fi
echo "$venv/bin/python"
