# Sourced by build.sh and build-node.sh: the version-keyed cache they build into, and a wrapper Go
# module that builds commands of k8s.io/kubernetes.

# start_cached_build PREFIX: with cache_root, key, bin and binaries=() set, prints $bin and exits when
# every binary is there; else checks for Go, makes $bin and $work and sets the build environment.
start_cached_build() {
  build_log_prefix=$1
  # One build of a key at a time: a second caller (a test suite while .ci/run builds the same key in
  # the background) waits for the first, then finds the binaries there.
  mkdir -p "$cache_root/plane"
  exec {build_lock}>"$cache_root/plane/$key.lock"
  if ! flock -n "$build_lock"; then
    log "waiting for another build of $key to finish"
    flock "$build_lock"
  fi
  if all_present; then log "cached: $bin"; echo "$bin"; exit 0; fi
  command -v go >/dev/null || { log "go is required (Go >= 1.26)"; exit 1; }
  mkdir -p "$bin"
  work="$cache_root/plane/$key/src"
  mkdir -p "$work"
  export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
  start=$SECONDS
}

log() { printf '[%s %(%H:%M:%S)T] %s\n' "${build_log_prefix:-build}" -1 "$*" >&2; }

all_present() { for b in "${binaries[@]}"; do [ -e "$bin/$b" ] || return 1; done; }

# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local paths, so
# `go install k8s.io/kubernetes/cmd/...@v1.N.M` fails; the wrapper pins each staging module to its
# published release instead.

# write_kubernetes_module DIR MODULE_NAME CMD... : go.mod + tools.go in DIR, modules downloaded.
write_kubernetes_module() {
  local dir=$1 name=$2 gomod staging cmd
  shift 2
  local staging_version="v0.${KUBERNETES_VERSION#v1.}"
  mkdir -p "$dir"
  log "resolving k8s.io/kubernetes@$KUBERNETES_VERSION"
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  staging=$(sed -n '/^replace (/,/^)/p' "$gomod" | awk '$2=="=>" && $3 ~ /^\.\/staging/ {print $1}')
  {
    echo "module $name"
    echo
    echo "go 1.26.0"
    echo
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    echo
    echo "replace ("
    for m in $staging; do echo "	$m => $m $staging_version"; done
    echo ")"
  } >"$dir/go.mod"
  {
    echo '//go:build tools'
    echo
    echo 'package tools'
    echo
    echo 'import ('
    for cmd in "$@"; do echo "	_ \"k8s.io/kubernetes/cmd/$cmd\""; done
    echo ')'
  } >"$dir/tools.go"
  log "downloading Kubernetes modules (first time: a few minutes)"
  (cd "$dir" && go mod tidy -e >/dev/null 2>&1 || true; cd "$dir" && go mod download)
}

# build_kubernetes_commands DIR BIN CMD... : each command built into BIN with the release's version stamped in.
build_kubernetes_commands() {
  local dir=$1 bin=$2 minor cmd
  shift 2
  minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  for cmd in "$@"; do
    [ -x "$bin/$cmd" ] && continue
    log "building $cmd (first time: several minutes on 2 cores)"
    (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$bin/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd")
    mv "$bin/$cmd.tmp" "$bin/$cmd"
  done
}
