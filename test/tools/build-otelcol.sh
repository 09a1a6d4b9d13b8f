#!/usr/bin/env bash
# Idempotent: builds a minimal OpenTelemetry Collector (OTLP receiver, otlphttp exporter) with the
# official collector builder from the Go module proxy (no binary downloads here) into a cache keyed
# by version, and prints the binary's path. Used by test/runtime/tracing.test.ts: the runtime exports
# spans to this collector, which forwards them as OTLP JSON to an HTTP server in the test.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
dir="${MODELSHIP_CACHE_DIR:-$HOME/.cache/modelship}/tools/otelcol-$OTELCOL_VERSION"
if [ ! -x "$dir/otelcol" ]; then
  echo "[otelcol-build] building the collector $OTELCOL_VERSION with go.opentelemetry.io/collector/cmd/builder (a few minutes the first time)" >&2
  start=$SECONDS
  work="$dir/.build"
  rm -rf "$work"
  mkdir -p "$work"
  GOBIN="$work" GOFLAGS=-buildvcs=false go install "go.opentelemetry.io/collector/cmd/builder@$OTELCOL_VERSION" >&2
  # Only the components the test uses: every extra one lengthens the cold build.
  cat > "$work/manifest.yaml" <<MANIFEST
dist:
  name: otelcol
  description: Modelship test collector (OTLP in, OTLP/HTTP JSON out)
  output_path: $work/dist
receivers:
  - gomod: go.opentelemetry.io/collector/receiver/otlpreceiver $OTELCOL_VERSION
exporters:
  - gomod: go.opentelemetry.io/collector/exporter/otlphttpexporter $OTELCOL_VERSION
providers:
  - gomod: go.opentelemetry.io/collector/confmap/provider/fileprovider $OTELCOL_PROVIDERS_VERSION
  # The generated main's default \${...} scheme.
  - gomod: go.opentelemetry.io/collector/confmap/provider/envprovider $OTELCOL_PROVIDERS_VERSION
MANIFEST
  CGO_ENABLED=0 GOFLAGS=-buildvcs=false "$work/builder" --config "$work/manifest.yaml" --ldflags "-s -w" >&2
  mv "$work/dist/otelcol" "$dir/otelcol"
  rm -rf "$work"
  echo "[otelcol-build] built in $((SECONDS - start))s" >&2
fi
echo "$dir/otelcol"
