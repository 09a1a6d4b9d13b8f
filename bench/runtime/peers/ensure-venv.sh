#!/usr/bin/env bash
# Idempotent: a venv for one Python peer of bench/runtime/python-peers.ts, with exactly the packages
# pinned in bench/runtime/peers/<peer>/requirements.txt, cached under
# ~/.cache/modelship/bench-peers/<peer>-<hash of that file> (a changed pin gets a fresh venv); prints
# the venv's bin dir on stdout. One venv per peer: their pins conflict (fastapi, numpy, uvloop).
#   ensure-venv.sh mlserver|kserve|pytriton
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
peer=$1
requirements="$here/$peer/requirements.txt"
[ -f "$requirements" ] || { echo "no such peer: $peer ($requirements)" >&2; exit 2; }
python_bin="${PYTHON:-python3}"
hash="$(sha256sum "$requirements" | cut -c1-16)"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/modelship/bench-peers/$peer-$hash"
done_stamp="$venv/.modelship-complete"

if [ ! -f "$done_stamp" ]; then
  # A venv without the stamp is a half-done install (interrupted): start again.
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  "$python_bin" -m venv "$venv" >&2
  echo "installing the $peer peer into $venv (first use; a minute or so) ..." >&2
  # In the background so that a TERM to this script (a caller that stops) stops pip too.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$requirements" >&2 &
  pip_pid=$!
  trap 'kill "$pip_pid" 2>/dev/null; exit 143' TERM INT HUP
  wait "$pip_pid"
  trap - TERM INT HUP
  "$venv/bin/python" -m pip check --disable-pip-version-check >&2
  touch "$done_stamp"
fi
echo "$venv/bin"
