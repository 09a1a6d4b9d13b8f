#!/usr/bin/env bash
# Idempotent: builds test/tools/gitops-health (kstatus from sigs.k8s.io/cli-utils and an Argo CD-style
# gopher-lua health-script runner) from the Go module proxy into a cache keyed by the library versions
# and the program's own source, and prints the binary's path. Used by test/integration/gitops-health.test.ts.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
src="$here/gitops-health"
for pin in "sigs.k8s.io/cli-utils $CLI_UTILS_VERSION" "github.com/yuin/gopher-lua $GOPHER_LUA_VERSION"; do
  grep -q "^[[:space:]]*$pin\$" "$src/go.mod" || { echo "[gitops-health-build] $src/go.mod does not require $pin (versions.env)" >&2; exit 1; }
done
source_hash=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-12)
dir="${MODELSHIP_CACHE_DIR:-$HOME/.cache/modelship}/tools/gitops-health-cli-utils-${CLI_UTILS_VERSION}_gopher-lua-${GOPHER_LUA_VERSION}_$source_hash"
if [ ! -x "$dir/gitops-health" ]; then
  echo "[gitops-health-build] building gitops-health (cli-utils $CLI_UTILS_VERSION, gopher-lua $GOPHER_LUA_VERSION; about 1.5 minutes the first time on 2 cores)" >&2
  start=$SECONDS
  mkdir -p "$dir"
  (cd "$src" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-buildvcs=false -mod=readonly" go build -trimpath -o "$dir/.gitops-health" .) >&2
  mv "$dir/.gitops-health" "$dir/gitops-health"
  echo "[gitops-health-build] built in $((SECONDS - start))s" >&2
fi
echo "$dir/gitops-health"
