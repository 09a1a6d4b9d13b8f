#!/usr/bin/env bash
# Builds metrics-server (the metrics.k8s.io aggregated API server, run outside the cluster against
# the test plane's kubeconfig) from its Go module into a cache keyed by version, like build.sh.
# Prints the bin directory on its last line. A second run with the same versions is a no-op.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=build-lib.sh
source "$here/build-lib.sh"

cache_root=${MODELSHIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelship}
key="metrics-server-${METRICS_SERVER_VERSION}"
bin="$cache_root/plane/$key/bin"
binaries=(metrics-server)

start_cached_build metrics-server-build

# metrics-server's go.mod has no replace directives: `go install cmd@version` builds it as released.
# The version is stamped where its Makefile stamps it (client-go's version package).
build_metrics_server() {
  local dir="$work/metrics-server"
  mkdir -p "$dir"
  log "building metrics-server $METRICS_SERVER_VERSION (first time: a few minutes on 2 cores)"
  (cd "$dir" && GOBIN="$dir/gobin" go install -trimpath \
    -ldflags "-s -w -X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION" \
    "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION")
  mv "$dir/gobin/metrics-server" "$bin/metrics-server"
}

[ -x "$bin/metrics-server" ] || build_metrics_server
all_present || { log "build incomplete in $bin"; exit 1; }
log "done in $((SECONDS - start))s: $bin"
echo "$bin"
