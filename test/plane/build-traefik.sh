#!/usr/bin/env bash
# Builds Traefik (a Gateway API implementation, run outside the cluster against the test plane's
# kubeconfig) from its Go module into a cache keyed by version, like build.sh. The Gateway API CRDs
# it serves come from test/tools/fetch-optional-crds.sh. Prints the bin directory on its last line. A second run with the same versions is a no-op.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=build-lib.sh
source "$here/build-lib.sh"

cache_root=${MODELSHIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelship}
key="traefik-${TRAEFIK_VERSION}"
bin="$cache_root/plane/$key/bin"
binaries=(traefik)

start_cached_build traefik-build

# `go install github.com/traefik/traefik/v3/cmd/traefik@v3.N.M` fails: Traefik's go.mod has replace
# directives, one of them (github.com/traefik/traefik/dynamic/ext) to a local nested module that is
# neither in the release's module zip nor on the proxy. The wrapper module copies the other replace
# and exclude directives and provides that extension module: upstream it is two empty structs that
# Traefik's own distribution leaves empty too. Two more departures, for modules the proxy reachable
# here does not serve:
# - Traefik's fork of go-http-auth (basic and digest auth middlewares) at the fork's 2020 version;
# - lego (ACME) from a local copy without its DNS-challenge providers: they pull in some 200 DNS
#   providers and cloud SDKs, several unavailable, and would take most of the build time. ACME with
#   a DNS challenge then fails at startup with "unrecognized DNS provider"; tests use neither.
http_auth_fork="github.com/containous/go-http-auth v0.4.1-0.20200324110947-a37a7636d23e"

build_traefik() {
  local dir="$work/traefik" gomod lego legodir
  mkdir -p "$dir/ext"
  log "resolving github.com/traefik/traefik/v3@$TRAEFIK_VERSION"
  gomod=$(go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  printf 'module github.com/traefik/traefik/dynamic/ext\n\ngo 1.24.0\n' >"$dir/ext/go.mod"
  cat >"$dir/ext/ext.go" <<'GO'
package ext

// HTTP is a dynamic.HTTP extension.
type HTTP struct{}

// Router is a dynamic.Router extension.
type Router struct{}
GO
  lego=$(awk '$1=="github.com/go-acme/lego/v5" {print $2; exit}' "$gomod")
  legodir=$(go mod download -json "github.com/go-acme/lego/v5@$lego" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  rm -rf "$dir/lego"
  cp -r "$legodir" "$dir/lego"
  chmod -R u+w "$dir/lego"
  rm -rf "$dir/lego/cmd" "$dir/lego/e2e" "$dir/lego/main.go" "$dir/lego/providers/dns"
  mkdir -p "$dir/lego/providers/dns"
  cat >"$dir/lego/providers/dns/zz_gen_dns_providers.go" <<'GO'
// Package dns: lego's DNS-challenge providers, left out of this build (test/plane/build-traefik.sh).
package dns

import (
	"fmt"

	"github.com/go-acme/lego/v5/challenge"
)

// NewDNSChallengeProviderByName knows no provider in this build.
func NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf("unrecognized DNS provider: %s (DNS providers are left out of this build)", name)
}
GO
  {
    echo "module modelship.local/plane/traefik"
    echo
    echo "go 1.26.0"
    echo
    echo "require github.com/traefik/traefik/v3 $TRAEFIK_VERSION"
    echo
    # Missing from Traefik's module graph, so go mod tidy would take their newest: pinned for repeatable builds.
    echo "require ("
    echo "	github.com/bytedance/gopkg v0.1.4"
    echo "	github.com/bytedance/sonic/loader v0.5.3"
    echo "	github.com/cloudwego/base64x v0.1.7"
    echo "	github.com/twitchyliquid64/golang-asm v0.15.1"
    echo ")"
    echo
    echo "replace github.com/traefik/traefik/dynamic/ext => ./ext"
    echo "replace github.com/go-acme/lego/v5 => ./lego"
    echo "replace github.com/abbot/go-http-auth => $http_auth_fork"
    echo
    # Traefik's other module-to-module replaces, single-line or in a block; local paths left out.
    awk '/^replace \($/ {block=1; next} block && /^\)$/ {block=0; next}
      (block || $1=="replace") {sub(/^(replace)?[[:space:]]+/, "")
        if ($2=="=>" && $3 !~ /^\./ && $1!="github.com/abbot/go-http-auth") print "replace " $0}' "$gomod"
    awk '$1=="exclude" && NF==3 {print}' "$gomod"
  } >"$dir/go.mod"
  cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"
GO
  log "downloading Traefik's modules (first time: a few minutes)"
  (cd "$dir" && go mod tidy >/dev/null && go mod download)
  log "building traefik $TRAEFIK_VERSION (first time: several minutes on 2 cores)"
  (cd "$dir" && go build -trimpath -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
    -o "$bin/traefik.tmp" github.com/traefik/traefik/v3/cmd/traefik)
  mv "$bin/traefik.tmp" "$bin/traefik"
}

[ -x "$bin/traefik" ] || build_traefik
all_present || { log "build incomplete in $bin"; exit 1; }
log "done in $((SECONDS - start))s: $bin"
echo "$bin"
