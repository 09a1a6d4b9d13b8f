#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, kwok) from the official Go modules, into a cache outside the git tree keyed by version.
# Prints the bin directory on its last line. A second run with the same versions is a no-op.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=build-lib.sh
source "$here/build-lib.sh"

cache_root=${MODELSHIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelship}
key="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
bin="$cache_root/plane/$key/bin"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kwok-stages.yaml)

start_cached_build plane-build

build_kubernetes() {
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
  write_kubernetes_module "$work/kubernetes" modelship.local/plane/kubernetes "${cmds[@]}"
  build_kubernetes_commands "$work/kubernetes" "$bin" "${cmds[@]}"
}

build_etcd() {
  local dir="$work/etcd" gomod
  mkdir -p "$dir"
  log "resolving go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  gomod=$(go mod download -json "go.etcd.io/etcd/server/v3@$ETCD_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  {
    echo "module modelship.local/plane/etcd"
    echo
    echo "go 1.26.0"
    echo
    echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION"
    echo
    echo "replace ("
    # etcd's server module replaces its sibling modules with local paths; pin them to the release.
    sed -n '/^replace (/,/^)/p' "$gomod" | awk '$2=="=>" && $3 ~ /^\.\./ {print "\t" $1 " => " $1 " '"$ETCD_VERSION"'"}'
    echo ")"
  } >"$dir/go.mod"
  cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
  log "building etcd"
  (cd "$dir" && go mod tidy -e >/dev/null 2>&1 || true; cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$bin/etcd.tmp" "$bin/etcd"
}

build_kwok() {
  log "building kwok $KWOK_VERSION"
  local dir="$work/kwok"
  mkdir -p "$dir"
  (cd "$dir" && GOBIN="$dir/gobin" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")
  mv "$dir/gobin/kwok" "$bin/kwok"
}

# The kwok binary (unlike kwokctl) has no built-in stages: take the "fast" node/pod lifecycle
# stages and the node heartbeat from the same release's sources.
write_kwok_stages() {
  local src
  src=$(cd "$work" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  local files=(
    kustomize/stage/node/fast/node-initialize.yaml
    kustomize/stage/node/heartbeat/node-heartbeat.yaml
    kustomize/stage/pod/fast/pod-ready.yaml
    kustomize/stage/pod/fast/pod-complete.yaml
    kustomize/stage/pod/fast/pod-delete.yaml
  )
  : >"$bin/kwok-stages.yaml.tmp"
  for f in "${files[@]}"; do { echo "---"; cat "$src/$f"; } >>"$bin/kwok-stages.yaml.tmp"; done
  mv "$bin/kwok-stages.yaml.tmp" "$bin/kwok-stages.yaml"
}

[ -x "$bin/etcd" ] || build_etcd
[ -x "$bin/kwok" ] || build_kwok
[ -f "$bin/kwok-stages.yaml" ] || write_kwok_stages
[ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ] && [ -x "$bin/kube-scheduler" ] && [ -x "$bin/kubectl" ] || build_kubernetes
all_present || { log "build incomplete in $bin"; exit 1; }
log "done in $((SECONDS - start))s: $bin"
echo "$bin"
