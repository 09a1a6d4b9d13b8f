#!/usr/bin/env bash
# Idempotent: makes sure a real Prometheus server (Debian's package) is installed; prints its path.
set -euo pipefail
if ! command -v prometheus >/dev/null; then
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd=sudo
  echo "installing Debian's prometheus package (used by test/runtime/prometheus.test.ts)" >&2
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends prometheus >&2
fi
command -v prometheus
