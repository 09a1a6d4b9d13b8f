#!/usr/bin/env bash
# Builds the real node's binaries (kubelet, kube-proxy, containerd + its runc shim + ctr, CoreDNS and
# the pod sandbox's pause program) from their Go modules into a cache keyed by version, like build.sh.
# runc, the CNI plugins, iptables and conntrack come from Debian (.ci/run installs them).
# Prints the bin directory on its last line. A second run with the same versions is a no-op.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=build-lib.sh
source "$here/build-lib.sh"

cache_root=${MODELSHIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelship}
key="node-k8s-${KUBERNETES_VERSION}_containerd-${CONTAINERD_VERSION}_coredns-${COREDNS_VERSION}"
bin="$cache_root/plane/$key/bin"
binaries=(kubelet kube-proxy containerd containerd-shim-runc-v2 ctr coredns pause)

start_cached_build node-build

build_containerd() {
  local dir="$work/containerd" tags="no_btrfs no_devmapper no_zfs urfave_cli_no_docs osusergo netgo static_build"
  local ldflags="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
  mkdir -p "$dir"
  log "building containerd $CONTAINERD_VERSION"
  (cd "$dir" && GOBIN="$dir/gobin" go install -trimpath -tags "$tags" -ldflags "$ldflags" \
    "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION")
  (cd "$dir" && GOBIN="$dir/gobin" go install -trimpath -tags "$tags no_grpc" -ldflags "$ldflags" \
    "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION")
  for b in containerd ctr containerd-shim-runc-v2; do mv "$dir/gobin/$b" "$bin/$b"; done
}

# CoreDNS with only the plugins cluster DNS needs: the full plugin set (cloud DNS providers and
# more) would compile for minutes to no purpose.
build_coredns() {
  local dir="$work/coredns"
  mkdir -p "$dir"
  cat >"$dir/go.mod" <<GOMOD
module modelship.local/plane/coredns

go 1.26.0

require github.com/coredns/coredns $COREDNS_VERSION
GOMOD
  # Plugins are registered by import; the server orders them by core/dnsserver's directive list.
  cat >"$dir/main.go" <<'GO'
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() { coremain.Run() }
GO
  log "building coredns $COREDNS_VERSION (kubernetes, bind, forward, cache, errors, log, health, ready)"
  (cd "$dir" && go mod tidy >/dev/null && go build -trimpath -ldflags "-s -w" -o "$bin/coredns.tmp" .)
  mv "$bin/coredns.tmp" "$bin/coredns"
}

# The pod sandbox image's only program: waits for a signal. No registry is reachable, so the
# sandbox image is made locally from it (test/plane/node.ts).
build_pause() {
  local dir="$work/pause"
  mkdir -p "$dir"
  printf 'module modelship.local/plane/pause\n\ngo 1.26.0\n' >"$dir/go.mod"
  cat >"$dir/main.go" <<'GO'
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	<-signals
}
GO
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$bin/pause" .)
}

build_kubernetes() {
  local cmds=(kubelet kube-proxy)
  write_kubernetes_module "$work/kubernetes" modelship.local/plane/node "${cmds[@]}"
  build_kubernetes_commands "$work/kubernetes" "$bin" "${cmds[@]}"
}

[ -x "$bin/pause" ] || build_pause
[ -x "$bin/containerd" ] && [ -x "$bin/ctr" ] && [ -x "$bin/containerd-shim-runc-v2" ] || build_containerd
[ -x "$bin/coredns" ] || build_coredns
[ -x "$bin/kubelet" ] && [ -x "$bin/kube-proxy" ] || build_kubernetes
all_present || { log "build incomplete in $bin"; exit 1; }
log "done in $((SECONDS - start))s: $bin"
echo "$bin"
