#!/usr/bin/env bash
# Idempotent: builds the helm CLI from its Go module (no binary downloads here) into a cache keyed
# by version, and prints the binary's path. Used by test/integration/chart.test.ts.
set -euo pipefail
version="v3.22.0"
dir="${MODELSHIP_CACHE_DIR:-$HOME/.cache/modelship}/tools/helm-$version"
if [ ! -x "$dir/helm" ]; then
  echo "[helm-build] building helm $version from helm.sh/helm/v3 (about 2 minutes the first time)" >&2
  mkdir -p "$dir"
  GOBIN="$dir" GOFLAGS=-buildvcs=false go install "helm.sh/helm/v3/cmd/helm@$version" >&2
fi
echo "$dir/helm"
