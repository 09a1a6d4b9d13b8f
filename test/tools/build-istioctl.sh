#!/usr/bin/env bash
# Idempotent: builds istioctl from the istio.io/istio Go module (no binary downloads here) into a
# cache keyed by version, and prints the binary's path. Used by test/support/optional-crds.ts.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
dir="${MODELSHIP_CACHE_DIR:-$HOME/.cache/modelship}/tools/istioctl-$ISTIO_MODULE_VERSION"
if [ ! -x "$dir/istioctl" ]; then
  echo "[istioctl-build] building istioctl $ISTIO_MODULE_VERSION from istio.io/istio (several minutes the first time)" >&2
  start=$SECONDS
  mkdir -p "$dir"
  # Istio's own release build: static, trimmed, its standard build tags; -s -w drops the symbol
  # tables, which only shortens the link.
  CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false GOBIN="$dir/.gobin" go install -trimpath \
    -tags=vtprotobuf,disable_pgv \
    -ldflags "-s -w -X istio.io/istio/pkg/version.buildVersion=$ISTIO_MODULE_VERSION" \
    "istio.io/istio/istioctl/cmd/istioctl@$ISTIO_MODULE_VERSION" >&2
  mv "$dir/.gobin/istioctl" "$dir/istioctl"
  rmdir "$dir/.gobin"
  echo "[istioctl-build] built in $((SECONDS - start))s" >&2
fi
echo "$dir/istioctl"
