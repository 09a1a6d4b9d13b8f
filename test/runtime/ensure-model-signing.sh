#!/usr/bin/env bash
# Idempotent: creates .venv-model-signing (if missing) with the OpenSSF model-signing CLI from PyPI,
# every package pinned by model-signing-constraints.txt, then prints the CLI's path on stdout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venv-model-signing"
python_bin="${PYTHON:-python3}"
# pyOpenSSL: model-signing 1.1.1 imports it without declaring it.
packages=(model-signing==1.1.1 pyOpenSSL==26.4.0)
constraints="$root/test/runtime/model-signing-constraints.txt"
stamp="$venv/.modelship-requirements"
wanted="$(cat "$constraints"; echo "${packages[*]}")"

if [ ! -x "$venv/bin/python" ]; then
  "$python_bin" -m venv "$venv" >&2
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}" -c "$constraints" >&2
  printf '%s' "$wanted" > "$stamp"
fi
echo "$venv/bin/model_signing"
