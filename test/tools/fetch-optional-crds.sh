#!/usr/bin/env bash
# Idempotent: takes the CRDs of Istio, the Prometheus Operator and the Gateway API, as each project publishes them,
# out of their Go module zips (Go module proxy, no other download) into a cache keyed by version.
# Prints the directory holding istio.yaml, prometheus-operator.yaml and gateway-api.yaml. Used by test/support/optional-crds.ts.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
dir="${MODELSHIP_CACHE_DIR:-$HOME/.cache/modelship}/tools/crds_istio-${ISTIO_MODULE_VERSION}_prometheus-operator-${PROMETHEUS_OPERATOR_VERSION}_gateway-api-${GATEWAY_API_VERSION}"

# The module's extracted directory in the Go module cache (downloaded on first use).
module_dir() {
  local json dir
  json=$(cd "${TMPDIR:-/tmp}" && GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json "$1")
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json")
  [ -d "$dir" ] || { echo "go mod download $1 gave no directory: $json" >&2; exit 1; }
  echo "$dir"
}

if [ ! -f "$dir/istio.yaml" ]; then
  src=$(module_dir "istio.io/istio@$ISTIO_MODULE_VERSION")
  mkdir -p "$dir"
  # Every CRD the Istio base chart installs (networking, security, telemetry, extensions).
  cat "$src/manifests/charts/base/files/crd-all.gen.yaml" >"$dir/istio.yaml.tmp"
  mv "$dir/istio.yaml.tmp" "$dir/istio.yaml"
fi

if [ ! -f "$dir/prometheus-operator.yaml" ]; then
  src=$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")
  mkdir -p "$dir"
  # The kinds a workload's own chart or operator creates; the server-side ones (Prometheus,
  # Alertmanager, ...) belong to whoever runs the monitoring stack.
  : >"$dir/prometheus-operator.yaml.tmp"
  for kind in prometheusrules servicemonitors podmonitors; do
    { echo "---"; cat "$src/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml"; } >>"$dir/prometheus-operator.yaml.tmp"
  done
  mv "$dir/prometheus-operator.yaml.tmp" "$dir/prometheus-operator.yaml"
fi
if [ ! -f "$dir/gateway-api.yaml" ]; then
  src=$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")
  mkdir -p "$dir"
  # Every CRD of the standard channel: an implementation (Traefik) watches them all, routes or not.
  : >"$dir/gateway-api.yaml.tmp"
  for file in "$src"/config/crd/standard/gateway.networking.k8s.io_*.yaml; do
    grep -q '^kind: CustomResourceDefinition' "$file" || continue
    { echo "---"; cat "$file"; } >>"$dir/gateway-api.yaml.tmp"
  done
  mv "$dir/gateway-api.yaml.tmp" "$dir/gateway-api.yaml"
fi
echo "$dir"
