#!/usr/bin/env bash
# Idempotent: creates .venv-<name> (if missing) with the given pinned packages, every dependency pinned
# by the constraints file, then prints the venv's bin dir on stdout. Each Python tool the tests run
# (a server, a CLI) gets its own venv, so tools never fight over versions.
#   ensure-tool-venv.sh NAME CONSTRAINTS_FILE PACKAGE==VERSION...
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
name=$1 constraints=$2
shift 2
venv="$root/.venv-$name"
python_bin="${PYTHON:-python3}"
stamp="$venv/.modelship-requirements"
wanted="$(cat "$constraints"; printf '%s\n' "$@")"

if [ ! -x "$venv/bin/python" ]; then
  "$python_bin" -m venv "$venv" >&2
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "installing $* into .venv-$name (first use; a minute or more) ..." >&2
  # In the background so that a TERM to this script (a caller that stops) stops pip too.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" -c "$constraints" >&2 &
  pip_pid=$!
  trap 'kill "$pip_pid" 2>/dev/null; exit 143' TERM INT HUP
  wait "$pip_pid"
  trap - TERM INT HUP
  printf '%s' "$wanted" > "$stamp"
fi
echo "$venv/bin"
